// Comments in the page itself: the server's HTML fragment, put in as the page is served
// (`?ssi=1`). With JavaScript off a reader reads, posts, replies and sees the held
// notice; with it on, the embed takes the section over: no second fetch of the thread,
// each comment once, no layout jump.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, withPage, comment, until } from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

const noJs = { context: { javaScriptEnabled: false } };

test('without JavaScript: the comments are in the page, and the form posts and comes back', async () => {
  const slug = freshSlug('nojs');
  const first = (await world.api.post('blog', slug, { body: 'Served *as HTML*', author: 'Ada' })).comment;
  await withPage(world, slug + '?ssi=1', noJs, async ({ page }) => {
    assert.equal(await page.evaluate(() => document.querySelectorAll('script:not([type])').length), 1);
    const art = comment(page, first.id);
    await art.waitFor({ state: 'visible' });
    assert.equal(await art.locator('.aw-body em').textContent(), 'as HTML');
    assert.equal(await art.locator('.aw-author').textContent(), 'Ada');
    assert.equal(await art.locator('time').getAttribute('datetime'), first.created_at);
    assert.equal(await art.getAttribute('itemtype'), 'https://schema.org/Comment');
    assert.match(await page.locator('.aw-heading').textContent(), /^1 comment$/);
    // Styled by the embed's own stylesheet: the honeypot is out of sight.
    assert.equal(await page.locator('input[name=homepage]').first().evaluate((e) => getComputedStyle(e).position), 'absolute');

    // A new comment through the plain form: back on the post, at the comment.
    const form = page.locator('#afterword > .aw-root > div > form.aw-form');
    await form.getByRole('textbox', { name: 'Comment', exact: true }).fill('Posted with **no** script');
    await form.getByRole('textbox', { name: 'Name', exact: true }).fill('Bob');
    await Promise.all([page.waitForURL(/#afterword-comment-\d+$/), form.getByRole('button', { name: 'Post comment' }).click()]);
    const id = Number(/#afterword-comment-(\d+)$/.exec(page.url())[1]);
    assert.ok(page.url().startsWith(world.blog.origin + slug));
    await comment(page, id).waitFor({ state: 'visible' });
    assert.equal(await comment(page, id).locator('.aw-body strong').textContent(), 'no');
    assert.match(await page.locator('.aw-heading').textContent(), /^2 comments$/);

    // A reply: the Reply under the first comment opens its form.
    await art.locator('summary', { hasText: 'Reply' }).click();
    const reply = art.locator('details[open] form');
    await reply.getByRole('textbox', { name: 'Comment', exact: true }).fill('A reply, no script');
    await Promise.all([page.waitForURL(/#afterword-comment-\d+$/), reply.getByRole('button', { name: 'Post comment' }).click()]);
    const rid = Number(/#afterword-comment-(\d+)$/.exec(page.url())[1]);
    await comment(page, first.id).locator(`.aw-replies #afterword-comment-${rid}`).waitFor({ state: 'visible' });
  });
  const t = await world.api.thread('blog', slug);
  assert.deepEqual(t.comments.map((c) => c.author), ['Ada', null, 'Bob']);
  assert.equal(t.comments.length, 3);
  assert.equal(t.comments.find((c) => c.parent_id === first.id).html, '<p>A reply, no script</p>\n');
});

test('without JavaScript: a held comment gets the notice, in the reader\'s language, with a way back', async () => {
  const slug = freshSlug('nojs-held');
  await withPage(world, slug + '?ssi=1&site=moderated&lang=de', noJs, async ({ page }) => {
    const form = page.locator('form.aw-form').first();
    await form.getByRole('textbox', { name: 'Kommentar', exact: true }).fill('Bitte freigeben');
    await Promise.all([
      page.waitForURL((u) => u.href.startsWith(world.server.origin + '/api/v1/comments/form')),
      form.getByRole('button', { name: 'Kommentar senden' }).click(),
    ]);
    await page.getByText('Wartet auf Freigabe').waitFor({ state: 'visible' });
    await Promise.all([page.waitForURL((u) => u.href.startsWith(world.blog.origin + slug)), page.getByRole('link', { name: 'Zurück zur Seite' }).click()]);
    assert.equal(await page.locator('.aw-comment').count(), 0);
  });
});

test('without JavaScript: a refused comment comes back with its text', async () => {
  const slug = freshSlug('nojs-refused');
  await withPage(world, slug + '?ssi=1&site=short', noJs, async ({ page }) => {
    const form = page.locator('form.aw-form').first();
    const text = 'x'.repeat(300);
    await form.getByRole('textbox', { name: 'Comment', exact: true }).fill(text);
    await Promise.all([page.waitForURL(/\/api\/v1\/comments\/form/), form.getByRole('button', { name: 'Post comment' }).click()]);
    await page.locator('.aw-error').filter({ hasText: /200/ }).waitFor({ state: 'visible' });
    assert.equal(await page.getByRole('textbox', { name: 'Comment', exact: true }).inputValue(), text);
  });
});

test('with JavaScript: the embed takes the fragment over, each comment once, no second fetch, no jump', async () => {
  const slug = freshSlug('takeover');
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push((await world.api.post('blog', slug, { body: `Comment number ${i}`, author: `Reader ${i}` })).comment.id);
  await world.api.post('blog', slug, { body: 'A reply', parent_id: ids[0] });
  await withPage(
    world,
    slug + '?ssi=1',
    {
      viewport: { width: 1024, height: 2400 },
      beforeGoto: async (page) => {
        await page.addInitScript(() => {
          window.__shifts = [];
          new PerformanceObserver((list) => {
            for (const e of list.getEntries()) if (!e.hadRecentInput) window.__shifts.push(e.value);
          }).observe({ type: 'layout-shift', buffered: true });
        });
        // The script comes late, as on a slow network: the fragment is painted first.
        await page.route(world.server.origin + '/embed.js', async (route) => {
          await new Promise((r) => setTimeout(r, 700));
          await route.continue();
        });
      },
    },
    async ({ page, to }) => {
      // Where the server's HTML puts each comment and the blog's footer, seen with
      // JavaScript off: the embed must draw them in the same places.
      const ctx = await world.browser.newContext({ javaScriptEnabled: false, viewport: { width: 1024, height: 2400 } });
      const plain = await ctx.newPage();
      await plain.goto(world.blog.origin + slug + '?ssi=1');
      const tops = (p) => p.evaluate(() => [...document.querySelectorAll('.aw-comment, footer')].map((e) => Math.round(e.getBoundingClientRect().top)));
      const before = await tops(plain);
      await ctx.close();
      // Taken over: the embed's section, with its sort menu, in place of the fragment.
      await page.locator('.aw-root:not(.aw-static) select').waitFor({ state: 'visible' });
      await page.locator('.aw-static').waitFor({ state: 'detached' });
      assert.equal(await page.locator('.aw-comment').count(), 5);
      const shown = await page.locator('.aw-comment').evaluateAll((els) => els.map((e) => e.dataset.id));
      assert.equal(new Set(shown).size, 5);
      // The thread came with the page: no request for it.
      const reads = to(world.server.origin).filter((r) => /\/api\/v1\/comments\?/.test(r.url) && r.method === 'GET');
      assert.deepEqual(reads.map((r) => r.url), []);
      const now = await tops(page);
      assert.equal(now.length, before.length);
      const moved = Math.max(...now.map((y, i) => Math.abs(y - before[i])));
      assert.ok(moved <= 2, `moved by ${moved} px: ${before} → ${now}`);
      // The browser's own measure: layout-shift entries (what Cumulative Layout Shift sums).
      const cls = await page.evaluate(() => window.__shifts.reduce((a, b) => a + b, 0));
      assert.ok(cls < 0.01, `layout shift ${cls}`);
      console.log(`# layout shift while the embed took over: ${cls.toFixed(4)}`);
      // The thread's Atom feed, linked the same way before and after.
      const feed = await page.locator('.aw-foot a').getAttribute('href');
      assert.equal(feed, `${world.server.origin}/feeds/blog/thread.atom?slug=${encodeURIComponent(slug)}`);
      const atom = await fetch(feed);
      assert.equal(atom.status, 200);
      assert.match(await atom.text(), /Comment number 3/);
      // And it works as the embed: a reply form opens under a comment.
      await comment(page, ids[1]).getByRole('button', { name: 'Reply', exact: true }).click();
      await comment(page, ids[1]).locator('form.aw-form textarea').waitFor({ state: 'visible' });
    },
  );
});
