// The spam checks through the real embed: the form sends the thread's form token and
// never the hidden honeypot field a person cannot see; a form filled at once, or with
// the honeypot filled, is filed as spam while its poster sees an ordinary held comment.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, withPage, threadShown, mainForm, submit, waitText, comment, axe } from './harness.mjs';

let world;
before(async () => {
  // 5 s: the bot below posts as soon as the thread is shown, which on a loaded machine
  // (CI, two cores, the whole suite beside it) took more than 2 s.
  world = await setup({ spam: { min_seconds: 5, duplicates: '10m' } });
});
after(async () => {
  await world?.close();
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const postBody = (page) =>
  page.waitForRequest((r) => /\/api\/v1\/comments\?/.test(r.url()) && r.method() === 'POST');
const stored = (id) => world.server.sql(`SELECT status FROM comments WHERE id = ${id}`).trim();
const reason = (id) =>
  world.server.sql(`SELECT detail FROM audit_log WHERE comment_id = ${id} AND moderator = 'spam filter'`).trim();

test('a reader who takes a moment is published; the form sends the token, not the honeypot', async () => {
  const slug = freshSlug('spam-person');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    // Out of sight, out of the tab order and hidden from screen readers.
    const hp = mainForm(page).locator('input[name=homepage]');
    assert.equal(await hp.getAttribute('tabindex'), '-1');
    assert.equal(await hp.getAttribute('aria-hidden'), 'true');
    const box = await hp.evaluate((el) => getComputedStyle(el).clipPath);
    assert.match(box, /inset\(50%\)/);
    assert.deepEqual(await axe(page), [], 'axe with the honeypot in the form');

    await sleep(5100);
    const sent = postBody(page);
    const r = await submit(page, mainForm(page), { body: 'A thoughtful comment', author: 'Robin' });
    const body = (await sent).postDataJSON();
    assert.match(body.form_token, /^\d+\.[\w-]+$/, 'the thread answer\'s token');
    assert.equal(body.homepage, undefined, 'an empty honeypot is not sent');
    assert.equal(r.status, 201);
    assert.equal(r.json.comment.status, 'approved');
    assert.equal(stored(r.json.comment.id), 'approved');
    await waitText(comment(page, r.json.comment.id).locator('.aw-body'), 'A thoughtful comment');
  });
});

test('a bot is filed as spam but shown a held comment', async () => {
  const slug = freshSlug('spam-bot');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    // Posting the moment the thread is loaded: faster than anyone writes.
    const quick = await submit(page, mainForm(page), { body: 'First!!! visit my site', author: 'Bot' });
    assert.equal(quick.status, 201);
    assert.equal(quick.json.comment.status, 'pending');
    await waitText(comment(page, quick.json.comment.id).locator('.aw-pending-note'), 'Awaiting moderation');
    assert.equal(stored(quick.json.comment.id), 'spam');
    assert.match(reason(quick.json.comment.id), /after loading the thread/);

    // A form-filling bot fills every field it finds, the hidden one too.
    await sleep(5100);
    await mainForm(page).locator('input[name=homepage]').fill('http://spam.example', { force: true });
    const filled = await submit(page, mainForm(page), { body: 'Great post, see my site', author: 'Bot 2' });
    assert.equal(filled.status, 201);
    assert.equal(filled.json.comment.status, 'pending');
    assert.equal(stored(filled.json.comment.id), 'spam');
    assert.match(reason(filled.json.comment.id), /hidden form field/);

    // A reload still shows both as awaiting moderation to their poster; nobody else sees them.
    await page.reload();
    await threadShown(page);
    await waitText(comment(page, filled.json.comment.id).locator('.aw-pending-note'), 'Awaiting moderation');
    assert.equal((await world.api.thread('blog', slug)).comments.length, 0);
  });
});
