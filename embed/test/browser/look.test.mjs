// Look and language: light, dark and auto themes; five languages chosen by data-lang or
// the page's lang, every string overridable; axe-core clean in both themes with
// comments, an open reply form and an error on screen.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, mainForm, field, submit, comment, waitText, axe, until,
} from './harness.mjs';
import { LANGS } from '../../src/i18n.js';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

async function colors(page) {
  return page.evaluate(() => {
    const root = document.querySelector('.aw-root');
    const box = root.querySelector('textarea');
    const s = getComputedStyle(root);
    // The identicon's outline: only on a dark theme.
    const cells = root.querySelector('.aw-avatar path');
    const outline = cells && getComputedStyle(cells).stroke;
    return { theme: root.dataset.theme, bg: s.backgroundColor, fg: s.color, field: getComputedStyle(box).backgroundColor, outline };
  });
}

async function seeded(name) {
  const slug = freshSlug(name);
  const c = await world.api.post('blog', slug, { body: 'A *first* comment with a [link](https://example.com/)', author: 'Ada', website: 'https://ada.example/' });
  await world.api.post('blog', slug, { body: 'A reply', author: 'Bob', parent_id: c.comment.id });
  return { slug, id: c.comment.id };
}

test('dark theme: data-theme=dark on the root, and it looks different from light', async () => {
  const { slug } = await seeded('dark');
  let light;
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 2);
    light = await colors(page);
  });
  await withPage(world, `${slug}?theme=dark`, async ({ page }) => {
    await threadShown(page, 2);
    const dark = await colors(page);
    assert.equal(dark.theme, 'dark');
    assert.notEqual(dark.bg, light.bg, 'background differs');
    assert.notEqual(dark.fg, light.fg, 'text colour differs');
    assert.equal(light.outline, 'none', 'no identicon outline on light');
    assert.equal(dark.outline, 'rgb(145, 152, 161)', 'identicons outlined on dark');
  });
  // auto follows the page's own background: a light blog stays light in a dark system…
  await withPage(world, `${slug}?theme=auto`, { colorScheme: 'dark' }, async ({ page }) => {
    await threadShown(page, 2);
    const auto = await colors(page);
    assert.equal(auto.theme, 'light');
    assert.equal(auto.bg, light.bg, 'auto on a light page is light');
  });
  // …and a dark blog gets the dark theme in a light one.
  await withPage(world, `${slug}?bg=dark`, { colorScheme: 'light' }, async ({ page }) => {
    await threadShown(page, 2);
    assert.equal((await colors(page)).theme, 'dark');
  });
  // With no background anywhere, prefers-color-scheme decides.
  await withPage(world, `${slug}?bg=none`, { colorScheme: 'dark' }, async ({ page }) => {
    await threadShown(page, 2);
    const auto = await colors(page);
    assert.equal(auto.theme, 'auto');
    assert.notEqual(auto.bg, light.bg, 'auto + prefers dark is dark');
    assert.equal(auto.outline, 'rgb(145, 152, 161)', 'identicons outlined on auto + prefers dark');
  });
  await withPage(world, `${slug}?bg=none`, { colorScheme: 'light' }, async ({ page }) => {
    await threadShown(page, 2);
    assert.equal((await colors(page)).bg, light.bg, 'auto + prefers light is light');
  });
});

test('the blog can override the colours through custom properties', async () => {
  const slug = freshSlug('override');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    await page.addStyleTag({ content: '.aw-root{--afterword-bg:rgb(1, 2, 3)}' });
    await until(async () => (await colors(page)).bg === 'rgb(1, 2, 3)', { message: 'override applied' });
  });
});

for (const lang of ['de', 'fr', 'es', 'zh']) {
  test(`data-lang=${lang} shows the ${lang} strings`, async () => {
    const { slug } = await seeded(`lang-${lang}`);
    const s = LANGS[lang];
    assert.ok(s, `the embed has ${lang}`);
    await withPage(world, `${slug}?lang=${lang}`, async ({ page }) => {
      await threadShown(page, 2);
      const form = mainForm(page);
      assert.notEqual(s.post, LANGS.en.post);
      await form.getByRole('button', { name: s.post, exact: true }).waitFor({ state: 'visible' });
      await field(form, s.comment).waitFor({ state: 'visible' });
      await page.getByRole('button', { name: s.reply, exact: true }).first().waitFor({ state: 'visible' });
      const heading = (await page.locator('.aw-heading').textContent()).trim();
      assert.ok(heading.includes('2'), heading);
      assert.ok(!/comments?\b/i.test(heading) || lang === 'fr' || lang === 'es', `heading translated: ${heading}`);
      if (lang === 'zh') assert.match(heading, /[\u4e00-\u9fff]/);
      assert.equal(await page.locator('.aw-root').getAttribute('lang'), lang);
    });
  });
}

test('the page\'s own lang picks the language when data-lang is absent', async () => {
  const slug = freshSlug('htmllang');
  await withPage(world, `${slug}?htmllang=de-AT`, async ({ page }) => {
    await threadShown(page);
    await mainForm(page).getByRole('button', { name: LANGS.de.post, exact: true }).waitFor({ state: 'visible' });
    await waitText(page.locator('.aw-empty'), LANGS.de.empty);
  });
});

test('every string can be overridden with data-strings', async () => {
  const slug = freshSlug('strings');
  const strings = JSON.stringify({ post: 'Send it', empty: 'Nothing here, yet!' });
  await withPage(world, `${slug}?strings=${encodeURIComponent(strings)}`, async ({ page }) => {
    await threadShown(page);
    await mainForm(page).getByRole('button', { name: 'Send it', exact: true }).waitFor({ state: 'visible' });
    await waitText(page.locator('.aw-empty'), 'Nothing here, yet!');
  });
});

for (const theme of ['light', 'dark']) {
  test(`axe: no serious or critical violation (${theme}: comments, reply form, error, own comment)`, async () => {
    const { slug, id } = await seeded(`axe-${theme}`);
    await withPage(world, `${slug}?theme=${theme}`, { colorScheme: theme }, async ({ page }) => {
      await threadShown(page, 2);
      // Own comment (Edit/Delete, time left), a pending one is covered in moderation tests.
      const own = await submit(page, mainForm(page), { body: 'Mine', author: 'Me' });
      await waitText(comment(page, own.json.comment.id).locator('.aw-edit-left'), /\d/);
      assert.deepEqual(await axe(page), [], 'thread with comments');

      await comment(page, id).getByRole('button', { name: 'Reply', exact: true }).first().click();
      await comment(page, id).locator('form.aw-form').waitFor({ state: 'visible' });
      const r = await submit(page, mainForm(page), { body: 'bad website', website: 'ftp://x.example/' });
      assert.equal(r.status, 422);
      await waitText(mainForm(page).locator('.aw-error'), /\S/);
      assert.deepEqual(await axe(page), [], 'reply form open, error shown');

      await comment(page, own.json.comment.id).getByRole('button', { name: 'Edit', exact: true }).click();
      await comment(page, own.json.comment.id).locator('form').waitFor({ state: 'visible' });
      assert.deepEqual(await axe(page), [], 'edit form open');
    });
  });
}

test('at 320 px nothing overflows sideways', async () => {
  const { slug, id } = await seeded('narrow');
  // A deep chain, a long word and a long link, the usual culprits.
  let parent = id;
  for (let i = 0; i < 4; i++) parent = (await world.api.post('blog', slug, { body: `Deeper ${i}`, parent_id: parent })).comment.id;
  await world.api.post('blog', slug, { body: 'Averyveryverylongwordwithoutanybreakopportunityatallwhatsoeveranywhere https://example.com/a/very/long/path/that/goes/on/and/on/and/on' });
  await withPage(world, slug, { viewport: { width: 320, height: 700 } }, async ({ page }) => {
    await threadShown(page, 7);
    await comment(page, id).getByRole('button', { name: 'Reply', exact: true }).first().click();
    const overflow = await page.evaluate(() => {
      const root = document.querySelector('.aw-root');
      const limit = document.documentElement.clientWidth;
      return [...root.querySelectorAll('*')]
        .filter((el) => el.getBoundingClientRect().right > limit + 1)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className} right=${Math.round(el.getBoundingClientRect().right)}`)
        .slice(0, 5);
    });
    assert.deepEqual(overflow, [], 'elements wider than a 320 px screen');
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), 'no horizontal scroll');
    // The reply form is the compact one: no hint line, a smaller text box than the main form's.
    const sizes = await page.evaluate(() => {
      const reply = document.querySelector('.aw-comment form');
      const main = document.querySelector('form.aw-form:not(.aw-comment form)');
      const hint = reply.querySelector('.aw-hint');
      return {
        hint: hint.getBoundingClientRect().height,
        described: document.getElementById(reply.querySelector('textarea').getAttribute('aria-describedby')) === hint,
        reply: reply.querySelector('textarea').getBoundingClientRect().height,
        main: main.querySelector('textarea').getBoundingClientRect().height,
        right: reply.getBoundingClientRect().right,
        width: document.documentElement.clientWidth,
      };
    });
    assert.equal(sizes.hint, 0, 'the hint is not shown in the reply form');
    assert.ok(sizes.described, 'the hint still describes the textarea');
    assert.ok(sizes.reply < sizes.main, `reply textarea ${sizes.reply}px, main ${sizes.main}px`);
    assert.ok(sizes.right <= sizes.width, 'the reply form fits');
  });
  // The deepest reply form, with an error in it, still fits.
  await withPage(world, slug, { viewport: { width: 320, height: 700 } }, async ({ page }) => {
    await threadShown(page, 7);
    await comment(page, parent).getByRole('button', { name: 'Reply', exact: true }).first().click();
    const form = page.locator('.aw-comment form');
    await submit(page, form, { body: 'x', website: 'ftp://nope/' });
    await waitText(form.locator('.aw-error'), /\S/);
    assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth), 'no horizontal scroll');
  });
});

test('relative times move on while the page stays open', async () => {
  const slug = freshSlug('clock');
  const { comment: c } = await world.api.post('blog', slug, { body: 'Just now', author: 'Ann' });
  await withPage(
    world,
    slug,
    { beforeGoto: (page) => page.clock.install({ time: new Date(c.created_at) }) },
    async ({ page }) => {
      await threadShown(page, 1);
      const time = comment(page, c.id).locator('time.aw-time');
      await waitText(time, 'now');
      await page.clock.fastForward(3 * 60 * 1000);
      await waitText(time, '3 minutes ago');
      await page.clock.fastForward(60 * 60 * 1000);
      await waitText(time, '1 hour ago');
    },
  );
});

test('every class is prefixed aw- and the blog\'s font is inherited', async () => {
  const { slug, id } = await seeded('classes');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 2);
    await comment(page, id).getByRole('button', { name: 'Reply', exact: true }).first().click();
    await submit(page, mainForm(page), { body: 'x', website: 'ftp://nope/' });
    const bad = await page.evaluate(() => [...document.querySelectorAll('.aw-root, .aw-root *')]
      .filter((el) => !el.closest('.aw-body'))
      .flatMap((el) => [...el.classList])
      .filter((c) => !c.startsWith('aw-')));
    assert.deepEqual([...new Set(bad)], []);
    const fonts = await page.evaluate(() => [getComputedStyle(document.body).fontFamily, getComputedStyle(document.querySelector('.aw-root')).fontFamily, getComputedStyle(document.querySelector('.aw-body')).fontFamily]);
    assert.equal(fonts[1], fonts[0], 'root inherits the blog font');
    assert.equal(fonts[2], fonts[0], 'comment text in the blog font');
  });
});
