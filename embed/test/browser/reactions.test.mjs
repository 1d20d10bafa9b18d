// Reactions: the bar under the post and on each comment, optimistic with rollback, kept
// across reloads by the visitor id in localStorage, keyboard-operable; reaction totals on
// index pages; the moderator badge.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, open, withPage, threadShown, waitText, until, comment } from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

// The post's bar: the first .aw-reacts of the section, above the comments.
const postBar = (page) => page.locator('.aw-root > div > .aw-reacts').first();
const kind = (scope, k) => scope.locator('button.aw-react', { hasText: k });
// The picker: the kinds with no reaction yet show once it is open.
const openPicker = async (bar) => {
  const pick = bar.locator('button.aw-pick');
  assert.equal(await pick.getAttribute('aria-expanded'), 'false');
  await pick.click();
  assert.equal(await pick.getAttribute('aria-expanded'), 'true');
};

async function pressed(button) {
  return button.getAttribute('aria-pressed');
}

test('react to the post, reload: still mine and counted; a second reader makes it 2', async () => {
  const slug = freshSlug('react-post');
  const first = await open(world, slug);
  const { page } = first;
  await threadShown(page);
  const thumbs = kind(postBar(page), '👍');
  // No empty buttons: only the picker, until it is opened.
  assert.equal(await postBar(page).locator('button:visible').count(), 1);
  assert.equal(await postBar(page).locator('button.aw-pick').getAttribute('aria-label'), 'Add a reaction');
  await openPicker(postBar(page));
  assert.equal(await postBar(page).locator('button.aw-react:not(.aw-pick):visible').count(), 6);
  assert.equal(await pressed(thumbs), 'false');
  assert.equal((await thumbs.textContent()).trim(), '👍');
  const answered = page.waitForResponse((r) => r.url().includes('/api/v1/reactions') && r.request().method() === 'POST');
  await thumbs.click();
  assert.equal((await answered).status(), 200);
  await waitText(thumbs, '👍 1');
  assert.equal(await pressed(thumbs), 'true');
  // The visitor id lives in localStorage, created once.
  const id = await page.evaluate(() => JSON.parse(localStorage.getItem('afterword:me')).v.i);
  assert.match(id, /^\d+$/);

  await page.reload();
  await threadShown(page);
  await waitText(kind(postBar(page), '👍'), '👍 1');
  assert.equal(await pressed(kind(postBar(page), '👍')), 'true');
  assert.equal(await page.evaluate(() => JSON.parse(localStorage.getItem('afterword:me')).v.i), id);

  // Another browser context is another reader.
  await withPage(world, slug, async ({ page: other }) => {
    await threadShown(other);
    const t2 = kind(postBar(other), '👍');
    await waitText(t2, '👍 1');
    assert.equal(await pressed(t2), 'false');
    await t2.click();
    await waitText(t2, '👍 2');
    assert.equal(await pressed(t2), 'true');
  });
  await page.reload();
  await threadShown(page);
  await waitText(kind(postBar(page), '👍'), '👍 2');
  assert.equal(await pressed(kind(postBar(page), '👍')), 'true');

  // Taking it back.
  await kind(postBar(page), '👍').click();
  await waitText(kind(postBar(page), '👍'), '👍 1');
  assert.equal(await pressed(kind(postBar(page), '👍')), 'false');
  await until(async () => JSON.stringify((await world.api.thread('blog', slug)).thread.reactions) === '{"👍":1}', {
    message: 'stored',
  });
  await first.check();
  await first.close();
});

test('comments have their own bar, operable with the keyboard', async () => {
  const slug = freshSlug('react-comment');
  const { comment: c } = await world.api.post('blog', slug, { body: 'React to me' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    const bar = comment(page, c.id).locator('.aw-reacts');
    await openPicker(bar);
    const heart = kind(bar, '❤️');
    await heart.focus();
    // Answered before it is taken back: two requests in flight may reach the server in
    // either order.
    const answered = page.waitForResponse((r) => r.url().includes('/api/v1/reactions') && r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    await answered;
    await waitText(heart, '❤️ 1');
    assert.equal(await pressed(heart), 'true');
    // The focus stays on the button, and Space takes it back.
    assert.equal(await page.evaluate(() => document.activeElement.textContent), '❤️ 1');
    await page.keyboard.press(' ');
    await until(async () => (await pressed(heart)) === 'false', { message: 'unpressed' });
    await page.keyboard.press('Tab');
    const next = await page.evaluate(() => document.activeElement.textContent);
    assert.match(next, /^😂/);
    await page.keyboard.press('Enter');
    await waitText(kind(bar, '😂'), '😂 1');
    // The post's bar did not move.
    assert.equal((await kind(postBar(page), '😂').textContent()).trim(), '😂');
    // Shown at once, stored once the server answered.
    await until(async () => {
      const thread = await world.api.thread('blog', slug);
      return JSON.stringify([thread.comments[0].reactions, thread.thread.reactions]) === '[{"😂":1},{}]';
    }, { message: 'stored' });
  });
});

test('a refused reaction is put back, with the reason shown', async () => {
  const slug = freshSlug('react-refused');
  await withPage(world, slug, async ({ page }) => {
    await page.route('**/api/v1/reactions**', async (route) => {
      if (route.request().method() !== 'POST') return route.continue();
      await new Promise((r) => setTimeout(r, 300));
      return route.fulfill({
        status: 429,
        contentType: 'application/json',
        headers: { 'Retry-After': '30', 'Access-Control-Allow-Origin': world.blog.origin },
        body: JSON.stringify({ error: { code: 'rate_limited', message: 'Too many requests from your address; try again in 30 s.' } }),
      });
    });
    await threadShown(page);
    await openPicker(postBar(page));
    const party = kind(postBar(page), '🎉');
    await party.click();
    // Counted at once…
    await waitText(party, '🎉 1');
    assert.equal(await pressed(party), 'true');
    // …then put back, with the server's sentence.
    await until(async () => (await pressed(party)) === 'false', { message: 'rolled back' });
    assert.equal((await party.textContent()).trim(), '🎉');
    await waitText(postBar(page).locator('.aw-error'), 'Too many requests');
  });
  const thread = await world.api.thread('blog', slug);
  assert.deepEqual(thread.thread.reactions, {});
});

test('index pages show reaction totals in the same single counts request', async () => {
  const [a, b] = [freshSlug('rx-index-a'), freshSlug('rx-index-b')];
  await world.api.post('blog', a, { body: 'one' });
  for (const v of ['x', 'y', 'z']) {
    const r = await world.api.call('POST', `/api/v1/reactions?site=blog&slug=${encodeURIComponent(a)}`, { kind: '👍', visitor: v, active: true });
    assert.equal(r.status, 200);
  }
  for (const script of ['count', 'embed']) {
    const path = `/index/?script=${script}&reactions=1&slugs=${encodeURIComponent([a, b].join(','))}`;
    await withPage(world, path, async ({ page, to }) => {
      const read = () =>
        page.evaluate(() =>
          [...document.querySelectorAll('[data-afterword-count],[data-afterword-reactions]')].map((el) => el.textContent),
        );
      await until(async () => (await read()).every((t) => /^\d+$/.test(t)), { message: 'all filled' });
      assert.deepEqual(await read(), ['1', '3', '0', '0']);
      const counts = to(world.server.origin).filter((r) => r.url.includes('/api/v1/counts'));
      assert.equal(counts.length, 1, counts.map((r) => r.url).join(' '));
      assert.match(counts[0].url, /reactions=true/);
    });
  }
});

test("the site's moderator gets a badge by their name", async () => {
  const slug = freshSlug('moderator');
  await world.api.post('blog', slug, { body: 'From the author', author: 'Ada' });
  await world.api.post('blog', slug, { body: 'From a reader', author: 'Bob' });
  await withPage(world, slug, async ({ page }) => {
    // The server marks the moderator's comments; here the first one is.
    await page.route('**/api/v1/comments?**', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      body.comments[0].moderator = true;
      await route.fulfill({ response: res, json: body });
    });
    await page.reload();
    await threadShown(page, 2);
    const badges = page.locator('.aw-mod');
    await until(async () => (await badges.count()) === 1, { message: 'one badge' });
    assert.equal(await badges.textContent(), 'Moderator');
    const meta = await page.locator('.aw-comment').first().locator('.aw-meta').textContent();
    assert.match(meta, /Ada\s*Moderator/);
  });
  await withPage(world, `${slug}?lang=de`, async ({ page }) => {
    await page.route('**/api/v1/comments?**', async (route) => {
      const res = await route.fetch();
      const body = await res.json();
      body.comments[0].moderator = true;
      await route.fulfill({ response: res, json: body });
    });
    await page.reload();
    await threadShown(page, 2);
    await waitText(page.locator('.aw-mod'), 'Moderator');
  });
});
