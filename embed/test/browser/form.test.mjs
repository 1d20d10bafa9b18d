// The form when things go wrong: the API's errors shown at the field, no double posts,
// the draft kept after a failed send and across reloads.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, mainForm, field, submit, waitText, waitCount, until,
} from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

test('a website the API refuses: its message in .aw-error, aria-invalid on the field, text kept', async () => {
  const slug = freshSlug('bad-website');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    const form = mainForm(page);
    const r = await submit(page, form, { body: 'My text stays', website: 'ftp://files.example/' });
    assert.equal(r.status, 422);
    assert.equal(r.json.error.field, 'website');
    const err = form.locator('.aw-error');
    await waitText(err, r.json.error.message);
    assert.equal(await err.getAttribute('role'), 'alert');
    assert.equal(await field(form, 'Website').getAttribute('aria-invalid'), 'true');
    await until(() => field(form, 'Website').evaluate((el) => el === document.activeElement), { message: 'focus on the field at fault' });
    assert.notEqual(await field(form, 'Comment').getAttribute('aria-invalid'), 'true');
    assert.equal(await field(form, 'Comment').inputValue(), 'My text stays');
    assert.equal(await page.locator('.aw-comment').count(), 0);

    // Fixing the field and sending again works and clears the error.
    await field(form, 'Website').fill('https://files.example/');
    const ok = await submit(page, form, {});
    assert.equal(ok.status, 201);
    await waitCount(page.locator('.aw-comment'), 1);
    await until(async () => (await field(form, 'Website').getAttribute('aria-invalid')) !== 'true', { message: 'aria-invalid cleared' });
    await until(async () => ((await err.count()) === 0 || !(await err.isVisible()) || !(await err.textContent()).trim()), { message: 'error cleared' });
  });
});

test('an overlong comment is refused with a message at the textarea', async () => {
  const slug = freshSlug('too-long');
  // Site "short" allows 200 characters.
  await withPage(world, `${slug}?site=short`, async ({ page, requests }) => {
    await threadShown(page);
    const form = mainForm(page);
    await field(form, 'Comment').fill('x'.repeat(201));
    await form.getByRole('button', { name: /^post comment$/i }).click();
    const err = form.locator('.aw-error');
    await waitText(err, /\S/);
    assert.equal(await field(form, 'Comment').getAttribute('aria-invalid'), 'true');
    assert.equal((await field(form, 'Comment').inputValue()).length, 201, 'text kept');
    assert.equal(await page.locator('.aw-comment').count(), 0);
    // Whether the embed checked locally or the API refused it (422), nothing was stored.
    const posts = requests.filter((x) => x.method === 'POST' && /\/api\/v1\/comments\?/.test(x.url));
    assert.ok(posts.length <= 1);
  });
  const t = await world.api.thread('short', slug);
  assert.equal(t.comments.length, 0);
});

test('the button is disabled while sending: a second click does not post twice', async () => {
  const slug = freshSlug('double');
  await withPage(world, slug, async ({ page, requests }) => {
    await threadShown(page);
    let release;
    const held = new Promise((r) => (release = r));
    await page.route(/\/api\/v1\/comments\?/, async (route) => {
      if (route.request().method() === 'POST') await held;
      await route.continue();
    });
    const form = mainForm(page);
    await field(form, 'Comment').fill('Only once');
    const btn = form.locator('button[type=submit]');
    await btn.click();
    await until(() => btn.isDisabled(), { message: 'submit disabled while sending' });
    await btn.click({ force: true }).catch(() => {});
    await form.evaluate((f) => f.requestSubmit?.()).catch(() => {});
    release();
    await waitCount(page.locator('.aw-comment'), 1);
    await until(() => btn.isEnabled(), { message: 'submit enabled again' });
    assert.equal(requests.filter((x) => x.method === 'POST' && /\/api\/v1\/comments\?/.test(x.url)).length, 1);
    await page.unroute(/\/api\/v1\/comments\?/);
  });
  const t = await world.api.thread('blog', slug);
  assert.equal(t.comments.length, 1);
});

test('the draft survives a failed send and a reload, and is gone once posted', async () => {
  const slug = freshSlug('draft');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    const form = mainForm(page);
    // The comment server cannot be reached for this one send.
    await page.route(/\/api\/v1\/comments\?/, (route) =>
      route.request().method() === 'POST' ? route.abort('connectionrefused') : route.continue());
    await field(form, 'Comment').fill('A draft worth keeping');
    await form.getByRole('button', { name: /^post comment$/i }).click();
    await waitText(form.locator('.aw-error'), /\S/);
    assert.equal(await field(form, 'Comment').inputValue(), 'A draft worth keeping');
    await page.unroute(/\/api\/v1\/comments\?/);

    await page.reload();
    await threadShown(page);
    await until(async () => (await field(mainForm(page), 'Comment').inputValue()) === 'A draft worth keeping', { message: 'draft restored after reload' });

    // Typing alone (no send) is kept too.
    await field(mainForm(page), 'Comment').fill('Edited draft');
    await until(() => page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('afterword:draft') && localStorage.getItem(k).includes('Edited draft'))), { message: 'draft saved' });
    await page.reload();
    await threadShown(page);
    await until(async () => (await field(mainForm(page), 'Comment').inputValue()) === 'Edited draft', { message: 'typed draft restored' });

    const r = await submit(page, mainForm(page), {});
    assert.equal(r.status, 201);
    await page.reload();
    await threadShown(page, 1);
    assert.equal(await field(mainForm(page), 'Comment').inputValue(), '');
  });
});

test('a reply draft is kept apart from the main draft', async () => {
  const slug = freshSlug('reply-draft');
  const parent = await world.api.post('blog', slug, { body: 'Parent' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    const art = page.locator(`#afterword-comment-${parent.comment.id}`);
    await art.getByRole('button', { name: 'Reply', exact: true }).first().click();
    await field(art.locator('form.aw-form'), 'Comment').fill('Reply in progress');
    await field(mainForm(page), 'Comment').fill('Main in progress');
    await until(() => page.evaluate(() => Object.keys(localStorage).some((k) => k.startsWith('afterword:draft') && localStorage.getItem(k).includes('Reply in progress') && localStorage.getItem(k).includes('Main in progress'))), { message: 'both drafts saved' });
    await page.reload();
    await threadShown(page, 1);
    await until(async () => (await field(mainForm(page), 'Comment').inputValue()) === 'Main in progress', { message: 'main draft restored' });
    const art2 = page.locator(`#afterword-comment-${parent.comment.id}`);
    await art2.getByRole('button', { name: 'Reply', exact: true }).first().click();
    await until(async () => (await field(art2.locator('form.aw-form'), 'Comment').inputValue()) === 'Reply in progress', { message: 'reply draft restored' });
  });
});

test('rate limited (429): the message is shown and the text kept', async () => {
  const limited = await setup({ limits: { comments_per_ip_per_minute: 1 } });
  try {
    const slug = freshSlug('rate');
    await withPage(limited, slug, async ({ page }) => {
      await threadShown(page);
      assert.equal((await submit(page, mainForm(page), { body: 'first' })).status, 201);
      const r = await submit(page, mainForm(page), { body: 'second, too soon' });
      assert.equal(r.status, 429);
      await waitText(mainForm(page).locator('.aw-error'), /\S/);
      assert.equal(await field(mainForm(page), 'Comment').inputValue(), 'second, too soon');
      await until(() => mainForm(page).locator('button[type=submit]').isEnabled(), { message: 'button usable again' });
    });
  } finally {
    await limited.close();
  }
});
