// On a site that holds comments for moderation, the author keeps seeing their own pending
// comment, marked "Awaiting moderation", across reloads, until it is refused (then it is
// gone) or approved (then it is an ordinary comment).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, mainForm, submit, waitText, waitCount, comment, axe,
} from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

const mineAnswer = (page) =>
  page.waitForResponse((r) => r.url().includes('/api/v1/comments/mine') && r.request().method() === 'POST');

test('a pending comment shows "Awaiting moderation" across reloads and disappears once refused', async () => {
  const slug = freshSlug('pending');
  await withPage(world, `${slug}?site=moderated`, async ({ page }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'Please approve me', author: 'Pat' });
    assert.equal(r.status, 201);
    assert.equal(r.json.comment.status, 'pending');
    const id = r.json.comment.id;

    const art = comment(page, id);
    await art.waitFor({ state: 'visible' });
    assert.ok(await art.evaluate((el) => el.classList.contains('aw-pending')));
    await waitText(art.locator('.aw-pending-note'), 'Awaiting moderation');
    await waitText(page.locator('.aw-live'), /\S/);
    assert.deepEqual(await axe(page), [], 'axe with a pending comment');
    // Others do not see it.
    assert.equal((await world.api.thread('moderated', slug)).comments.length, 0);

    // A reload asks the server about it (with its edit token) and shows it again.
    let mine = mineAnswer(page);
    await page.reload();
    assert.equal((await mine).status(), 200);
    await waitText(comment(page, id).locator('.aw-pending-note'), 'Awaiting moderation');
    await waitText(comment(page, id).locator('.aw-body'), 'Please approve me');

    // A moderator refuses it.
    await (await world.server.moderator()).act(id, 'spam');
    mine = mineAnswer(page);
    await page.reload();
    const answer = await (await mine).json();
    assert.deepEqual(answer.comments.map((c) => c.id), [], '/mine no longer returns it');
    await threadShown(page);
    await waitCount(page.locator('.aw-comment'), 0);
    await page.locator('.aw-empty').waitFor({ state: 'visible' });
    // And it is forgotten: the next load does not ask about it any more.
    await page.reload();
    await threadShown(page);
    assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('afterword:pending') && localStorage.getItem(k).includes('Please approve me')).length), 0);
  });
});

test('a pending comment, once approved, is shown like any other', async () => {
  const slug = freshSlug('approved');
  await withPage(world, `${slug}?site=moderated`, async ({ page }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'Approve this one' });
    const id = r.json.comment.id;
    await waitText(comment(page, id).locator('.aw-pending-note'), 'Awaiting moderation');

    await (await world.server.moderator()).act(id, 'approve');
    const mine = mineAnswer(page);
    await page.reload();
    await mine;
    const art = comment(page, id);
    await waitText(art.locator('.aw-body'), 'Approve this one');
    assert.equal(await art.evaluate((el) => el.classList.contains('aw-pending')), false);
    assert.equal(await art.locator('.aw-pending-note').count(), 0);
  });
});

test('an approved comment edited on a moderated site waits again, still shown to its author', async () => {
  const slug = freshSlug('reedit');
  await withPage(world, `${slug}?site=moderated`, async ({ page }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'Harmless words' });
    const id = r.json.comment.id;
    world.server.sql(`UPDATE comments SET status = 'approved' WHERE id = ${id}`);
    world.server.sql(`UPDATE threads SET comment_count = 1 WHERE id = (SELECT thread_id FROM comments WHERE id = ${id})`);
    await page.reload();
    const art = comment(page, id);
    await waitText(art.locator('.aw-body'), 'Harmless words');
    await waitText(page.locator('.aw-heading'), /\b1\b/);

    await art.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = art.locator('form');
    await form.getByRole('textbox').first().fill('Changed words');
    const patched = page.waitForResponse((x) => x.url().endsWith(`/api/v1/comments/${id}`) && x.request().method() === 'PATCH');
    await form.getByRole('button', { name: 'Save' }).click();
    const answer = await patched;
    assert.equal((await answer.json()).comment.status, 'pending');
    await waitText(comment(page, id).locator('.aw-pending-note'), 'Awaiting moderation');
    await waitText(page.locator('.aw-heading'), /\b0\b/);
    assert.equal((await world.api.thread('moderated', slug)).comments.length, 0);

    // After a reload it is still there for its author, pending.
    const mine = mineAnswer(page);
    await page.reload();
    await mine;
    await waitText(comment(page, id).locator('.aw-pending-note'), 'Awaiting moderation');
    await waitText(comment(page, id).locator('.aw-body'), 'Changed words');
  });
});
