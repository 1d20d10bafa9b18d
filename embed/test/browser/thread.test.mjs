// The thread as a reader sees and uses it: post, reply, edit, delete, paging, sorting,
// deep replies, what each comment shows.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, mainForm, field, comment, submit, waitText, waitCount, until, focusIs,
} from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

test('posting through the form shows the comment and updates the heading', async () => {
  const slug = freshSlug('post');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    await page.locator('.aw-empty').waitFor({ state: 'visible' });
    await waitText(page.locator('.aw-heading'), /\b0\b/);

    const r = await submit(page, mainForm(page), { body: 'Hello from a *real* browser', author: 'Ada' });
    assert.equal(r.status, 201);
    const id = r.json.comment.id;

    const art = comment(page, id);
    await art.waitFor({ state: 'visible' });
    await waitText(art.locator('.aw-body'), 'Hello from a real browser');
    assert.equal(await art.locator('.aw-body em').textContent(), 'real');
    await waitText(art.locator('.aw-author'), 'Ada');
    await waitText(page.locator('.aw-heading'), /\b1 comment\b/);
    await page.locator('.aw-empty').waitFor({ state: 'hidden' });
    // Focus goes to the new comment; the result is announced; the form is ready again.
    await focusIs(page, `article#afterword-comment-${id}`);
    await waitText(page.locator('.aw-live'), /\S/);
    assert.match(await page.locator('.aw-live').getAttribute('aria-live'), /polite|assertive/);
    await until(async () => (await field(mainForm(page), 'Comment').inputValue()) === '', { message: 'form cleared' });

    // It is really stored: a reload shows it from the server.
    await page.reload();
    await comment(page, id).waitFor({ state: 'visible' });
    await waitText(page.locator('.aw-heading'), /\b1 comment\b/);
  });
  const t = await world.api.thread('blog', slug);
  assert.equal(t.comments.length, 1);
  assert.equal(t.comments[0].author, 'Ada');
});

test('a reply shows nested inside its parent, and Reply moves focus to its textarea', async () => {
  const slug = freshSlug('reply');
  const parent = await world.api.post('blog', slug, { body: 'The parent', author: 'Bob' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    const art = comment(page, parent.comment.id);
    await art.getByRole('button', { name: 'Reply', exact: true }).first().click();
    const form = art.locator('form.aw-form');
    await form.waitFor({ state: 'visible' });
    const box = field(form, 'Comment');
    await until(() => box.evaluate((el) => el === document.activeElement), { message: 'focus in the reply textarea' });

    const r = await submit(page, form, { body: 'A nested reply' });
    assert.equal(r.status, 201);
    assert.equal(r.json.comment.parent_id, parent.comment.id);
    const reply = art.locator(`.aw-replies article#afterword-comment-${r.json.comment.id}`);
    await reply.waitFor({ state: 'visible' });
    await waitText(reply.locator('.aw-body'), 'A nested reply');
    await waitText(page.locator('.aw-heading'), /\b2 comments\b/);
    // The reply form closes once the reply is posted; focus stays in the comment section.
    await waitCount(art.locator('form.aw-form'), 0);
    await focusIs(page, `article#afterword-comment-${r.json.comment.id}`, 'focus on the new reply');

    // Cancel closes a reply form without posting.
    await art.getByRole('button', { name: 'Reply', exact: true }).first().click();
    await art.locator('form.aw-form').waitFor({ state: 'visible' });
    await art.locator('form.aw-form').getByRole('button', { name: 'Cancel' }).click();
    await waitCount(art.locator('form.aw-form'), 0);
  });
});

test('own comment: edit inside the window, then delete, also after a reload', async () => {
  const slug = freshSlug('edit');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'First version' });
    const id = r.json.comment.id;
    const art = comment(page, id);
    await waitText(art.locator('.aw-body'), 'First version');
    await waitText(art.locator('.aw-edit-left'), /\d/);

    await art.getByRole('button', { name: 'Edit', exact: true }).click();
    const form = art.locator('form');
    const box = form.getByRole('textbox').first();
    await box.waitFor({ state: 'visible' });
    assert.equal(await box.inputValue(), 'First version', 'the edit form starts from the Markdown source');
    await box.fill('Second **version**');
    const patched = page.waitForResponse((x) => x.url().endsWith(`/api/v1/comments/${id}`) && x.request().method() === 'PATCH');
    await form.getByRole('button', { name: 'Save' }).click();
    assert.equal((await patched).status(), 200);
    await waitText(art.locator('.aw-body'), 'Second version');
    assert.equal(await art.locator('.aw-body strong').textContent(), 'version');
    await focusIs(page, `article#afterword-comment-${id}`, 'focus on the saved comment');

    // The token survives a reload (localStorage): Edit and Delete are still offered.
    await page.reload();
    const again = comment(page, id);
    await waitText(again.locator('.aw-body'), 'Second version');
    const deleted = page.waitForResponse((x) => x.url().endsWith(`/api/v1/comments/${id}`) && x.request().method() === 'DELETE');
    // The first press only asks; nothing is sent until the second.
    let sent = 0;
    page.on('request', (r) => r.method() === 'DELETE' && sent++);
    await again.getByRole('button', { name: 'Delete', exact: true }).click();
    const sure = again.getByRole('button', { name: 'Really delete?', exact: true });
    await waitCount(sure, 1);
    assert.equal(sent, 0, 'no DELETE before the second press');
    await waitText(page.locator('.aw-live'), 'Really delete?');
    await sure.click();
    assert.equal((await deleted).status(), 204);
    assert.equal(sent, 1);
    await waitCount(page.locator(`article#afterword-comment-${id}`), 0);
    await waitText(page.locator('.aw-heading'), /\b0\b/);
    await focusIs(page, '.aw-heading', 'focus on the heading after a delete');
  });
  const t = await world.api.thread('blog', slug);
  assert.equal(t.comments.length, 0);
});

test('a comment shows avatar, author link, time and permalink; no edit controls for others', async () => {
  const slug = freshSlug('anatomy');
  const c = await world.api.post('blog', slug, { body: 'Look at me', author: 'Cleo', website: 'https://cleo.example/' });
  const anon = await world.api.post('blog', slug, { body: 'Nobody' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 2);
    const art = comment(page, c.comment.id);
    assert.equal(await art.getAttribute('data-id'), String(c.comment.id));
    assert.equal(await art.locator('.aw-avatar svg, svg.aw-avatar').count() > 0, true, 'an svg avatar');
    const author = art.locator('a.aw-author');
    assert.equal(await author.getAttribute('href'), 'https://cleo.example/');
    const rel = (await author.getAttribute('rel')).split(/\s+/);
    for (const r of ['nofollow', 'ugc', 'noopener']) assert.ok(rel.includes(r), `rel has ${r}: ${rel}`);
    const time = art.locator('time.aw-time').first();
    assert.equal(Date.parse(await time.getAttribute('datetime')), Date.parse(c.comment.created_at));
    assert.ok((await time.getAttribute('title'))?.trim(), 'exact time in title');
    const perma = art.locator('a.aw-permalink').first();
    assert.match(await perma.getAttribute('href'), new RegExp(`#afterword-comment-${c.comment.id}$`));
    // Someone else's comments: no Edit or Delete.
    assert.equal(await art.getByRole('button', { name: 'Edit', exact: true }).count(), 0);
    assert.equal(await art.getByRole('button', { name: 'Delete', exact: true }).count(), 0);
    // Anonymous: a name, no link.
    const a2 = comment(page, anon.comment.id);
    assert.equal(await a2.locator('a.aw-author').count(), 0);
    assert.ok((await a2.locator('.aw-author').textContent()).trim().length > 0);
  });
});

test('deep replies nest at most 3 levels, deeper ones flat with "in reply to"', async () => {
  const slug = freshSlug('deep');
  let parent = null;
  const ids = [];
  for (let i = 0; i < 6; i++) {
    const c = await world.api.post('blog', slug, { body: `Level ${i}`, author: `P${i}`, parent_id: parent });
    ids.push(c.comment.id);
    parent = c.comment.id;
  }
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 6);
    for (const id of ids) await comment(page, id).waitFor({ state: 'visible' });
    const depth = await page.evaluate(() =>
      Math.max(...[...document.querySelectorAll('.aw-comment')].map((el) => {
        let d = 0;
        for (let n = el.parentElement; n; n = n.parentElement) if (n.classList.contains('aw-replies')) d++;
        return d;
      })));
    assert.ok(depth <= 3, `nesting depth ${depth}`);
    const deepest = comment(page, ids[5]);
    await waitText(deepest.locator('.aw-reply-to'), 'P4');
  });
});

test('"Load more comments" pages through more than 50 top-level comments', async () => {
  const slug = freshSlug('paging');
  for (let i = 1; i <= 53; i++) await world.api.post('blog', slug, { body: `Comment number ${i}` });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 50);
    assert.equal(await page.locator('.aw-comment').count(), 50);
    await waitText(page.locator('.aw-heading'), /\b53\b/);
    // With the keyboard: the button goes away with the last page, focus must not be lost.
    const more = page.locator('.aw-more');
    await more.focus();
    await page.keyboard.press('Enter');
    await waitCount(page.locator('.aw-comment'), 53);
    await until(() => page.evaluate(() => !!document.activeElement?.closest('.aw-root')), { message: 'focus kept in .aw-root after loading more' });
    await waitText(page.locator('.aw-comment').last().locator('.aw-body'), 'Comment number 53');
    await waitCount(page.locator('.aw-more:visible'), 0);
  });
});

test('the sort switch reorders top-level comments', async () => {
  const slug = freshSlug('sort');
  const a = await world.api.post('blog', slug, { body: 'Oldest one' });
  await world.api.post('blog', slug, { body: 'Middle one' });
  const c = await world.api.post('blog', slug, { body: 'Newest one' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 3);
    const first = () => page.locator('.aw-comment').first().getAttribute('data-id');
    assert.equal(await first(), String(a.comment.id));
    const sort = page.getByLabel('Sort', { exact: true });
    await sort.selectOption('newest');
    await until(async () => (await first()) === String(c.comment.id), { message: 'newest first' });
    await sort.selectOption('oldest');
    await until(async () => (await first()) === String(a.comment.id), { message: 'oldest first again' });
  });
  // data-sort sets the starting order.
  await withPage(world, `${slug}?sort=newest`, async ({ page }) => {
    await threadShown(page, 3);
    assert.equal(await page.locator('.aw-comment').first().getAttribute('data-id'), String(c.comment.id));
    assert.equal(await page.getByLabel('Sort', { exact: true }).inputValue(), 'newest');
  });
});

test('keyboard only: Tab to the textarea, type, Tab to the button, Enter posts', async () => {
  const slug = freshSlug('keyboard');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    const focused = () => page.evaluate(() => {
      const el = document.activeElement;
      return el ? `${el.tagName.toLowerCase()}|${el.getAttribute('name') || ''}|${el.type || ''}|${(el.textContent || '').trim()}` : '';
    });
    let f = '';
    for (let i = 0; i < 30 && !f.startsWith('textarea|body'); i++) {
      await page.keyboard.press('Tab');
      f = await focused();
    }
    assert.match(f, /^textarea\|body/, 'Tab reaches the comment textarea');
    await page.keyboard.type('Typed with the keyboard');
    for (let i = 0; i < 10 && !/^button\|.*\|submit\|/.test(f); i++) {
      await page.keyboard.press('Tab');
      f = await focused();
    }
    assert.match(f, /^button\|.*\|submit\|Post comment/i, 'Tab reaches the submit button');
    const answer = page.waitForResponse((r) => /\/api\/v1\/comments\?/.test(r.url()) && r.request().method() === 'POST');
    await page.keyboard.press('Enter');
    assert.equal((await answer).status(), 201);
    await waitText(page.locator('.aw-comment .aw-body').first(), 'Typed with the keyboard');
    // Focus stays in the comment section (not lost to <body>).
    await until(() => page.evaluate(() => !!document.activeElement?.closest('.aw-root')), { message: 'focus inside .aw-root after posting' });
  });
});

test('window.Afterword.render draws a thread into any element (single-page sites)', async () => {
  const slug = freshSlug('spa');
  const other = freshSlug('spa-other');
  await world.api.post('blog', other, { body: 'Rendered by hand' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    await page.waitForFunction(() => typeof window.Afterword?.render === 'function');
    await page.evaluate((s) => {
      const el = document.createElement('div');
      el.id = 'spa-target';
      document.body.append(el);
      window.Afterword.render(el, { site: 'blog', slug: s });
    }, other);
    await waitText(page.locator('#spa-target .aw-body'), 'Rendered by hand');
    // Two sections, one copy of the styles.
    const sheets = await page.evaluate(() => document.adoptedStyleSheets.length + document.querySelectorAll('style').length);
    assert.equal(sheets, 1, 'styles injected once');
  });
});

test('a deleted comment with replies stays as a placeholder holding its replies', async () => {
  const slug = freshSlug('placeholder');
  const parent = await world.api.post('blog', slug, { body: 'Soon gone', author: 'Gone' });
  const reply = await world.api.post('blog', slug, { body: 'Still here', parent_id: parent.comment.id });
  const del = await world.api.call('DELETE', `/api/v1/comments/${parent.comment.id}`, null, { Authorization: `Bearer ${parent.edit_token}` });
  assert.equal(del.status, 204);
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 2);
    const art = comment(page, parent.comment.id);
    assert.ok(await art.evaluate((el) => el.classList.contains('aw-deleted')));
    assert.equal((await art.locator('.aw-body').first().textContent()).includes('Soon gone'), false);
    const ownButtons = await art.evaluate((el) => [...el.querySelectorAll('button')]
      .filter((b) => b.closest('.aw-comment') === el).map((b) => b.textContent.trim()));
    assert.deepEqual(ownButtons, [], 'no Reply, Edit or Delete on a placeholder');
    await waitText(art.locator(`.aw-replies #afterword-comment-${reply.comment.id} .aw-body`), 'Still here');
  });
});

test('no "Notify me of replies" box while the server cannot send email', async () => {
  const slug = freshSlug('notify');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    await field(mainForm(page), 'Comment').waitFor({ state: 'visible' });
    assert.equal(await page.getByLabel('Notify me of replies').count(), 0);
  });
});

test('data-slug, the page title and URL go with the comment', async () => {
  const page1 = freshSlug('page-path');
  const custom = freshSlug('custom-slug');
  await withPage(world, `${page1}?slug=${encodeURIComponent(custom)}&title=${encodeURIComponent('A Title & more')}`, async ({ page }) => {
    await threadShown(page);
    assert.equal((await submit(page, mainForm(page), { body: 'Where does this go?' })).status, 201);
  });
  const t = await world.api.thread('blog', custom);
  assert.equal(t.comments.length, 1, 'stored under data-slug');
  assert.equal(t.thread.title, 'A Title & more');
  assert.ok(t.thread.url.startsWith(`${world.blog.origin}${page1}`), t.thread.url);
  assert.ok(!t.thread.url.includes('#'));
  assert.equal((await world.api.thread('blog', page1)).comments.length, 0);
});

test('a locked thread shows the locked notice and no form', async () => {
  const slug = freshSlug('locked');
  await world.api.post('blog', slug, { body: 'Before the lock' });
  // No API locks a thread yet: straight in the database, before anything caches a read.
  world.server.sql(`UPDATE threads SET locked = 1 WHERE site = 'blog' AND slug = '${slug}'`);
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    await page.locator('.aw-locked').waitFor({ state: 'visible' });
    assert.equal(await page.locator('form.aw-form').count(), 0);
    assert.equal(await page.getByRole('button', { name: 'Reply', exact: true }).count(), 0);
  });
});

test('when the edit window runs out, Edit and Delete go away', async () => {
  const slug = freshSlug('window');
  await withPage(world, slug, { beforeGoto: (page) => page.clock.install() }, async ({ page }) => {
    await threadShown(page);
    const r = await submit(page, mainForm(page), { body: 'Editable for now' });
    const art = comment(page, r.json.comment.id);
    await art.getByRole('button', { name: 'Edit', exact: true }).waitFor({ state: 'visible' });
    await waitText(art.locator('.aw-edit-left'), /15|14/);
    await page.clock.fastForward('10:00');
    await waitText(art.locator('.aw-edit-left'), /\b[45]\b/);
    await page.clock.fastForward('06:00');
    await waitCount(art.getByRole('button', { name: 'Edit', exact: true }), 0);
    await waitCount(art.getByRole('button', { name: 'Delete', exact: true }), 0);
    await waitCount(art.locator('.aw-edit-left'), 0);
  });
});

test('a thread that cannot be loaded says so, without breaking the page', async () => {
  const slug = freshSlug('load-error');
  await withPage(world, slug, {
    beforeGoto: (page) => page.route(/\/api\/v1\/comments\?/, (route) => route.fulfill({ status: 503, contentType: 'application/json', body: '{"error":{"code":"unavailable","message":"down"}}' })),
  }, async ({ page }) => {
    await waitText(page.locator('.aw-root'), /could not be loaded/i);
    assert.equal(await page.locator('.aw-comment').count(), 0);
  });
});

test('keyboard: Enter on Reply opens the reply form focused; Cancel gives focus back', async () => {
  const slug = freshSlug('kbd-reply');
  const parent = await world.api.post('blog', slug, { body: 'Reply to me by keyboard' });
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    const art = comment(page, parent.comment.id);
    const reply = art.getByRole('button', { name: 'Reply', exact: true }).first();
    await reply.focus();
    await page.keyboard.press('Enter');
    const box = field(art.locator('form.aw-form'), 'Comment');
    await until(() => box.evaluate((el) => el === document.activeElement), { message: 'focus in the reply textarea' });
    await page.keyboard.type('typed');
    await art.locator('form.aw-form').getByRole('button', { name: 'Cancel' }).focus();
    await page.keyboard.press('Enter');
    await waitCount(art.locator('form.aw-form'), 0);
    await until(() => reply.evaluate((el) => el === document.activeElement), { message: 'focus back on Reply after Cancel' });
  });
});

test('times are relative, with the exact time in the title', async () => {
  const slug = freshSlug('times');
  const old = await world.api.post('blog', slug, { body: 'Three days old' });
  // Back-date it (microseconds), before anything caches a read of this thread.
  world.server.sql(`UPDATE comments SET created_at = created_at - ${3 * 86400 * 1e6} WHERE id = ${old.comment.id}`);
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page, 1);
    const time = comment(page, old.comment.id).locator('time.aw-time').first();
    await waitText(time, /3\s*days?\b/i);
    const at = Date.parse(await time.getAttribute('datetime'));
    assert.ok(Math.abs(Date.now() - 3 * 86400e3 - at) < 120e3, `datetime is three days ago: ${await time.getAttribute('datetime')}`);
    const title = await time.getAttribute('title');
    assert.ok(title && !/ago/i.test(title), `title holds the exact time: ${title}`);
  });
});
