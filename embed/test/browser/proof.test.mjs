// The embed proves a known address (api.md, `proof`): under first-time moderation a
// reader's second comment, with the address of their approved first one, is published at
// once; the same address typed in another browser is a new commenter. And the write
// chunk: loaded once a reader writes, with a preview the server renders.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, withPage, threadShown, mainForm, submit, comment } from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

test('a second comment from the same browser and address is published at once', async () => {
  const slug = freshSlug('proof');
  const path = `${slug}?site=firsttime`;
  let first;
  await withPage(world, path, async ({ page, context }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'My first comment', author: 'Ada', email: 'ada@example.com' });
    assert.equal(r.status, 201);
    first = r.json.comment;
    assert.equal(first.status, 'pending');
    await (await world.server.moderator()).act(first.id, 'approve');

    // The same browser, later, on another post of the site.
    const other = await context.newPage();
    await other.goto(world.blog.origin + freshSlug('proof-later') + '?site=firsttime');
    await threadShown(other);
    const sent = other.waitForRequest((q) => /\/api\/v1\/comments\?/.test(q.url()) && q.method() === 'POST');
    // Name and address are filled in from last time.
    const r2 = await submit(other, mainForm(other), { body: 'Known here now' });
    assert.deepEqual((await sent).postDataJSON().proof.id, first.id);
    assert.equal(r2.status, 201);
    assert.equal(r2.json.comment.status, 'approved');
    await comment(other, r2.json.comment.id).waitFor({ state: 'visible' });
  });
  // Someone else typing that address proves nothing: held.
  await withPage(world, path, async ({ page }) => {
    await threadShown(page, 1);
    const sent = page.waitForRequest((q) => /\/api\/v1\/comments\?/.test(q.url()) && q.method() === 'POST');
    const r = await submit(page, mainForm(page), { body: 'Pretending', author: 'Ada', email: 'ada@example.com' });
    assert.equal((await sent).postDataJSON().proof, undefined);
    assert.equal(r.json.comment.status, 'pending');
  });
});

test('writing loads the write chunk, which adds a preview rendered by the server', async () => {
  const slug = freshSlug('preview');
  await withPage(world, slug, async ({ page, to }) => {
    await threadShown(page);
    const chunk = () => to(world.server.origin).filter((r) => r.url.endsWith('/embed-write.js')).length;
    // Nothing of it for a reader who only reads.
    assert.equal(chunk(), 0);
    const form = mainForm(page);
    await form.getByRole('textbox', { name: 'Comment', exact: true }).fill('Some *Markdown* <script>x</script>');
    await form.getByRole('button', { name: 'Preview' }).click();
    const preview = form.locator('button[aria-expanded]');
    assert.equal(chunk(), 1);
    await form.locator('.aw-preview em').filter({ hasText: 'Markdown' }).waitFor({ state: 'visible' });
    assert.equal(await form.locator('.aw-preview script').count(), 0);
    assert.equal(await preview.getAttribute('aria-expanded'), 'true');
    assert.equal(await preview.textContent(), 'Write');
    await preview.click();
    await form.locator('.aw-preview').waitFor({ state: 'hidden' });
    // Posting works as before, through the chunk.
    const r = await submit(page, form, {});
    assert.equal(r.status, 201);
    await comment(page, r.json.comment.id).waitFor({ state: 'visible' });
    assert.equal(chunk(), 1);
  });
});

test('a refusal is told in the reader\'s language', async () => {
  const slug = freshSlug('refusal-de');
  await withPage(world, `${slug}?site=short&lang=de`, async ({ page }) => {
    await threadShown(page);
    const form = mainForm(page);
    await form.getByRole('textbox', { name: 'Kommentar', exact: true }).fill('x'.repeat(250));
    await form.getByRole('button', { name: 'Kommentar senden' }).click();
    await form.locator('.aw-error').filter({ hasText: 'Höchstens 200 Zeichen.' }).waitFor({ state: 'visible' });
    assert.equal(await form.getByRole('textbox', { name: 'Kommentar', exact: true }).getAttribute('aria-invalid'), 'true');
  });
});
