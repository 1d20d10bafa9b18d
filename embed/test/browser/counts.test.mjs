// Comment counts on index pages: every [data-afterword-count] element gets its thread's
// count of approved comments, all of them in one request, from count.js or embed.js.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, withPage, until } from './harness.mjs';

let world;
let slugs;
before(async () => {
  world = await setup();
  const [a, b, c, d] = [freshSlug('count-a'), freshSlug('count-b'), freshSlug('count-none'), freshSlug('count-pending')];
  const first = await world.api.post('blog', a, { body: 'one' });
  await world.api.post('blog', a, { body: 'two' });
  await world.api.post('blog', a, { body: 'a reply', parent_id: first.comment.id });
  await world.api.post('blog', b, { body: 'only one' });
  // Held for moderation: not counted.
  await world.api.post('moderated', d, { body: 'pending' });
  slugs = { a, b, c, d };
});
after(async () => {
  await world?.close();
});

async function countsOf(page) {
  return page.evaluate(() =>
    Object.fromEntries([...document.querySelectorAll('[data-afterword-count]')].map((el) => [el.dataset.afterwordCount, el.textContent.trim()])));
}

for (const script of ['count', 'embed']) {
  test(`${script}.js fills every count in one request`, async () => {
    const list = [slugs.a, slugs.b, slugs.c].join(',');
    await withPage(world, `/index/?script=${script}&slugs=${encodeURIComponent(list)}`, async ({ page, to }) => {
      await until(async () => Object.values(await countsOf(page)).every((v) => /^\d+$/.test(v)), { message: 'all counts filled' });
      assert.deepEqual(await countsOf(page), { [slugs.a]: '3', [slugs.b]: '1', [slugs.c]: '0' });
      const api = to(world.server.origin);
      const counts = api.filter((r) => r.url.includes('/api/v1/counts'));
      assert.equal(counts.length, 1, `one counts request: ${counts.map((r) => r.url)}`);
      // No thread is read on an index page.
      assert.deepEqual(api.filter((r) => r.url.includes('/api/v1/comments')).map((r) => r.url), []);
      assert.deepEqual(api.map((r) => new URL(r.url).pathname).sort(), [`/${script}.js`, '/api/v1/counts'].sort());
    });
  });
}

test('a pending comment is not counted (moderated site)', async () => {
  await withPage(world, `/index/?site=moderated&slugs=${encodeURIComponent(slugs.d)}`, async ({ page }) => {
    await until(async () => /^\d+$/.test((await countsOf(page))[slugs.d]), { message: 'count filled' });
    assert.equal((await countsOf(page))[slugs.d], '0');
  });
});
