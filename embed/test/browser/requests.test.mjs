// Round trips: the thread is on screen after two requests (the script and the thread), no
// preflight for reading, preflights for writing cached; the thread is fetched only when
// the comments come near the viewport, or at once for a comment permalink.
// A recording proxy sits in front of the server to see what really reached it.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, startProxy, freshSlug, withPage, threadShown, mainForm, submit, comment, until,
} from './harness.mjs';

let world;
let proxy;
let viaProxy;
before(async () => {
  world = await setup();
  proxy = await startProxy(world.server.origin);
  world.blog.setApi(proxy.origin);
  viaProxy = { ...world, server: { ...world.server, origin: proxy.origin } };
});
after(async () => {
  await proxy?.close();
  await world?.close();
});

const reached = (since) => proxy.seen.filter((r) => r.at >= since).map((r) => `${r.method} ${r.url.split('?')[0]}`);

test('a post page makes 2 requests to the comments server before the thread is on screen', async () => {
  const slug = freshSlug('two');
  await world.api.post('blog', slug, { body: 'one' });
  await world.api.post('blog', slug, { body: 'two' });
  const since = Date.now();
  await withPage(viaProxy, slug, async ({ page, to }) => {
    await threadShown(page, 2);
    const api = to(proxy.origin).map((r) => `${r.method} ${new URL(r.url).pathname}`);
    assert.deepEqual(api, ['GET /embed.js', 'GET /api/v1/comments']);
    assert.deepEqual(reached(since), ['GET /embed.js', 'GET /api/v1/comments'], 'no preflight, nothing else');
  });
});

test('the thread is not fetched while #afterword is far below the viewport, then is when scrolled near', async () => {
  const slug = freshSlug('lazy');
  await world.api.post('blog', slug, { body: 'Down here' });
  const since = Date.now();
  await withPage(viaProxy, `${slug}?far=1`, async ({ page }) => {
    await page.waitForFunction(() => typeof window.Afterword?.render === 'function');
    // Let the script settle: two frames (IntersectionObserver reports after a frame) and an
    // idle network.
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await page.waitForLoadState('networkidle');
    assert.deepEqual(reached(since), ['GET /embed.js'], 'only the script so far');
    assert.equal(await page.locator('.aw-comment').count(), 0);

    const fetched = page.waitForRequest((r) => r.url().includes('/api/v1/comments?'));
    await page.locator('#afterword').scrollIntoViewIfNeeded();
    await fetched;
    await threadShown(page, 1);
    assert.deepEqual(reached(since), ['GET /embed.js', 'GET /api/v1/comments']);
  });
});

test('a comment permalink in the URL fetches at once, scrolls to the comment and highlights it', async () => {
  const slug = freshSlug('permalink');
  const ids = [];
  for (let i = 0; i < 3; i++) ids.push((await world.api.post('blog', slug, { body: `Comment ${i}` })).comment.id);
  const target = ids[1];
  await withPage(viaProxy, `${slug}?far=1#afterword-comment-${target}`, async ({ page }) => {
    await threadShown(page, 3);
    const art = comment(page, target);
    await until(() => art.evaluate((el) => el.classList.contains('aw-highlight')), { message: 'highlighted' });
    for (const other of [ids[0], ids[2]]) {
      assert.equal(await comment(page, other).evaluate((el) => el.classList.contains('aw-highlight')), false);
    }
    await until(() => art.evaluate((el) => {
      const r = el.getBoundingClientRect();
      return r.top < innerHeight && r.bottom > 0;
    }), { message: 'the comment scrolled into view' });
  });
});

test('posting twice from one page costs at most one (cached) preflight', async () => {
  const slug = freshSlug('preflight');
  const since = Date.now();
  await withPage(viaProxy, slug, async ({ page }) => {
    await threadShown(page);
    assert.equal((await submit(page, mainForm(page), { body: 'first' })).status, 201);
    assert.equal((await submit(page, mainForm(page), { body: 'second' })).status, 201);
    const seen = reached(since);
    assert.equal(seen.filter((s) => s.startsWith('POST /api/v1/comments')).length, 2);
    assert.ok(seen.filter((s) => s.startsWith('OPTIONS')).length <= 1, seen.join(', '));
  });
  const pre = await fetch(`${world.server.origin}/api/v1/comments?site=blog&slug=${encodeURIComponent(slug)}`, {
    method: 'OPTIONS',
    headers: { Origin: world.blog.origin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'content-type' },
  });
  assert.ok(Number(pre.headers.get('access-control-max-age')) >= 600, 'preflights cacheable');
});

test('a permalink to a comment beyond the first page still finds and highlights it', async () => {
  const slug = freshSlug('permalink-far');
  let last;
  for (let i = 1; i <= 53; i++) last = await world.api.post('blog', slug, { body: `Number ${i}` });
  await withPage(viaProxy, `${slug}#afterword-comment-${last.comment.id}`, async ({ page }) => {
    const art = comment(page, last.comment.id);
    await art.waitFor({ state: 'visible' });
    await until(() => art.evaluate((el) => el.classList.contains('aw-highlight')), { message: 'highlighted' });
  });
});
