// Safety: hostile comments render inert; the embed works under a strict
// Content-Security-Policy (no inline script or style, no eval); no cookies; no request to
// anyone but the blog and the comments server (checked on every page by the harness).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, mainForm, submit, comment, waitText,
} from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

const HOSTILE_BODY = [
  '<script>alert(1)</script>',
  '<img src=x onerror=alert(1)>',
  '[click me](javascript:alert(1))',
  '<a href="javascript:alert(1)">raw link</a> <svg onload=alert(1)></svg>',
  '<iframe src="javascript:alert(1)"></iframe>',
].join('\n\n');

// Nothing executable inside the comment section.
async function assertInert(page) {
  const found = await page.evaluate(() => {
    const root = document.querySelector('.aw-root');
    const all = [...root.querySelectorAll('*')];
    return {
      scripts: all.filter((el) => ['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED'].includes(el.tagName)).map((el) => el.outerHTML),
      handlers: all.flatMap((el) => [...el.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `${el.tagName} ${a.name}`)),
      jsUrls: all.flatMap((el) => [...el.attributes]
        .filter((a) => ['href', 'src', 'action', 'formaction', 'xlink:href', 'srcdoc'].includes(a.name.toLowerCase()) && /^\s*(javascript|data|vbscript):/i.test(a.value))
        .map((a) => `${el.tagName} ${a.name}=${a.value}`)),
      images: all.filter((el) => el.tagName === 'IMG').map((el) => el.outerHTML),
    };
  });
  assert.deepEqual(found, { scripts: [], handlers: [], jsUrls: [], images: [] });
}

test('a hostile comment seeded through the API renders inert', async () => {
  const slug = freshSlug('hostile');
  const evil = await world.api.post('blog', slug, {
    body: HOSTILE_BODY,
    author: '"><script>alert(1)</script>',
    website: 'https://x.example/"onmouseover="alert(1)',
  });
  const evil2 = await world.api.post('blog', slug, { body: 'second', author: '<img src=x onerror=alert(1)>' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 2);
    const art = comment(page, evil.comment.id);
    // The markup is shown as text, exactly as typed.
    await waitText(art.locator('.aw-body'), '<script>alert(1)</script>');
    await waitText(art.locator('.aw-body'), '<img src=x onerror=alert(1)>');
    await waitText(art.locator('.aw-author'), '"><script>alert(1)</script>');
    await waitText(comment(page, evil2.comment.id).locator('.aw-author'), '<img src=x onerror=alert(1)>');
    // The quote-breaking website stays one attribute value.
    const link = art.locator('a.aw-author');
    const href = await link.getAttribute('href');
    assert.ok(href.startsWith('https://x.example/'), href);
    assert.equal(await link.getAttribute('onmouseover'), null);
    await link.hover();
    await art.getByText('click me').hover();
    await assertInert(page);
  });
});

test('hostile strings the server should never send are still shown as text', async () => {
  // The embed trusts only `html` (sanitized by the server); a tampered answer putting markup
  // in author, website or avatar must not reach the DOM as markup or as a javascript: link.
  const slug = freshSlug('tampered');
  const c = await world.api.post('blog', slug, { body: 'plain', author: 'placeholder' });
  await withPage(world, slug, {
    beforeGoto: (page) => page.route(/\/api\/v1\/comments\?/, async (route) => {
      if (route.request().method() !== 'GET') return route.continue();
      const res = await route.fetch();
      const json = await res.json();
      for (const x of json.comments) {
        x.author = '<img src=x onerror=alert(1)>';
        x.website = 'javascript:alert(1)';
        x.avatar = '"><svg onload=alert(1)>';
      }
      await route.fulfill({ response: res, json });
    }),
  }, async ({ page }) => {
    await threadShown(page, 1);
    const art = comment(page, c.comment.id);
    await waitText(art.locator('.aw-author'), '<img src=x onerror=alert(1)>');
    await assertInert(page);
  });
});

test('strict CSP page: the thread renders, posting and editing work, no violation, no cookie', async () => {
  const slug = freshSlug('csp');
  const seeded = await world.api.post('blog', slug, { body: 'Seeded **before**', author: 'Dee' });
  await withPage(world, `${slug}?csp=1`, async ({ page, context, requests }) => {
    const doc = requests.find((r) => r.type === 'document');
    assert.ok(doc, 'the page loaded');
    await threadShown(page, 1);
    await waitText(comment(page, seeded.comment.id).locator('.aw-body'), 'Seeded before');
    // The embed's styles applied (a constructable sheet or a stylesheet from the API origin):
    // the form's button is not in the browser's default look.
    const styled = await page.evaluate(() => {
      const root = document.querySelector('.aw-root');
      return document.adoptedStyleSheets.length > 0 || [...document.styleSheets].some((s) => s.href && !s.href.endsWith('/blog.css')) || getComputedStyle(root).display !== 'inline';
    });
    assert.ok(styled, 'embed styles applied under CSP');

    const r = await submit(page, mainForm(page), { body: 'Posted under a strict CSP' });
    assert.equal(r.status, 201);
    const art = comment(page, r.json.comment.id);
    await waitText(art.locator('.aw-body'), 'Posted under a strict CSP');
    await art.getByRole('button', { name: 'Edit', exact: true }).click();
    const box = art.locator('form').getByRole('textbox').first();
    await box.fill('Edited under a strict CSP');
    await art.locator('form').getByRole('button', { name: 'Save' }).click();
    await waitText(art.locator('.aw-body'), 'Edited under a strict CSP');
    await waitText(page.locator('.aw-heading'), /\b2 comments\b/);

    const cookies = await context.cookies();
    assert.deepEqual(cookies, [], 'no cookies');
    const ls = await page.evaluate(() => Object.keys(localStorage));
    assert.ok(ls.every((k) => k.startsWith('afterword:')), `localStorage keys are prefixed: ${ls}`);
  });
});
