// The admin page in a real browser: log in at /admin, approve a pending comment, see it
// on the public thread of the blog, log out. Also: the page on a phone, its accessibility,
// and that it runs under its own strict CSP without a violation.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, freshSlug, withPage, threadShown, comment, waitText, watch, readAxe,
} from './harness.mjs';

let world;
before(async () => {
  world = await setup();
  world.server.createAdmin('owner', 'a long enough password', 'Blog Owner');
});
after(async () => {
  await world?.close();
});

// axe, injected over DevTools: the admin page's CSP allows no inline script, rightly.
async function axe(page) {
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(readAxe());
  const violations = await page.evaluate(async () => (await window.axe.run(document, { resultTypes: ['violations'] })).violations);
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.impact} ${v.id}: ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(' | ')}`);
}

// A page of the admin side in a fresh context, watched like the blog's pages.
async function openAdmin(path, viewport = { width: 1024, height: 800 }) {
  const context = await world.browser.newContext({ viewport });
  const page = await context.newPage();
  const w = watch(page, [world.server.origin]);
  await page.goto(world.server.origin + path);
  return { context, page, w };
}

async function logIn(page) {
  await page.getByLabel('Username').fill('owner');
  await page.getByLabel('Password').fill('a long enough password');
  await Promise.all([
    page.waitForURL(`${world.server.origin}/admin`),
    page.getByRole('button', { name: 'Log in' }).click(),
  ]);
}

test('log in, approve a pending comment, see it on the blog, log out', async () => {
  const slug = freshSlug('admin');
  const { comment: pending } = await world.api.post('moderated', slug, {
    body: 'Please let me in', author: 'Patient Reader', email: 'patient@example.com',
  });
  assert.equal(pending.status, 'pending');

  const { context, page, w } = await openAdmin('/admin');
  // Not logged in: the login form.
  await page.waitForURL(`${world.server.origin}/admin/login`);
  // A wrong password says so, without telling which part was wrong.
  await page.getByLabel('Username').fill('owner');
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await waitText(page.locator('.error'), 'Wrong username or password.');
  await logIn(page);

  const card = page.locator(`#comment-${pending.id}`);
  await waitText(card, 'Please let me in');
  await waitText(card, 'patient@example.com');
  await waitText(page.getByRole('link', { name: /Queue/ }), /1/);
  assert.deepEqual(await axe(page), [], 'axe on the queue');

  await Promise.all([
    page.waitForEvent('load'),
    card.getByRole('button', { name: 'Approve' }).click(),
  ]);
  await waitText(page.locator('#flash'), 'Approve: done.');
  assert.equal(await page.locator(`#comment-${pending.id}`).count(), 0, 'gone from the queue');
  await page.locator('.empty').waitFor({ state: 'visible' });

  // The public thread shows it at once.
  await withPage(world, `${slug}?site=moderated`, async ({ page: blog }) => {
    await threadShown(blog, 1);
    await waitText(comment(blog, pending.id).locator('.aw-body'), 'Please let me in');
  });

  // Answer it as the blog's owner, from the comments list.
  await page.getByRole('link', { name: 'Comments', exact: true }).click();
  const approved = page.locator(`#comment-${pending.id}`);
  await approved.getByRole('button', { name: 'Reply' }).click();
  await approved.getByLabel('Your reply (Markdown)').fill('Thanks for *waiting*!');
  await Promise.all([
    page.waitForEvent('load'),
    approved.getByRole('button', { name: 'Post reply' }).click(),
  ]);
  await waitText(page.locator('#flash'), 'Saved.');
  const thread = await world.api.thread('moderated', slug);
  const reply = thread.comments.find((c) => c.parent_id === pending.id);
  assert.equal(reply.author, 'Blog Owner');
  assert.equal(reply.moderator, true);
  assert.equal(reply.html, '<p>Thanks for <em>waiting</em>!</p>\n');

  // It is in the log, under this moderator.
  await page.getByRole('link', { name: 'Log', exact: true }).click();
  await waitText(page.locator('main'), /owner\s+approve/);
  await waitText(page.locator('main'), /owner\s+reply/);

  await Promise.all([
    page.waitForURL(`${world.server.origin}/admin/login`),
    page.getByRole('button', { name: 'Log out' }).click(),
  ]);
  // The session is over on the server: the queue asks for a login again.
  await page.goto(`${world.server.origin}/admin`);
  await page.waitForURL(`${world.server.origin}/admin/login`);
  await w.check();
  await context.close();
});

test('on a phone the queue fits the screen and every action is reachable', async () => {
  const slug = freshSlug('phone');
  await world.api.post('moderated', slug, {
    body: 'A rather long comment that must wrap on a narrow screen '.repeat(4),
    author: 'Someone With A Long Name',
    email: 'someone.with.a.very.long.address@example.com',
  });
  const { context, page, w } = await openAdmin('/admin/login', { width: 360, height: 740 });
  await logIn(page);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  const approve = page.getByRole('button', { name: 'Approve' }).first();
  const box = await approve.boundingBox();
  assert.ok(box.height >= 36, `buttons are big enough to tap (${box.height}px)`);
  // Edit opens in place, with the Markdown as written.
  await page.getByRole('button', { name: 'Edit' }).first().click();
  assert.match(await page.getByLabel('Text (Markdown)').first().inputValue(), /long comment/);
  assert.deepEqual(await axe(page), [], 'axe on a phone');
  await w.check();
  await context.close();
});

test('bulk approval, then the thread locked from the threads page', async () => {
  const slug = freshSlug('bulk');
  const ids = [];
  for (const n of [1, 2, 3]) {
    ids.push((await world.api.post('moderated', slug, { body: `bulk ${n}` })).comment.id);
  }
  const { context, page, w } = await openAdmin('/admin/login');
  await logIn(page);
  await page.getByLabel('All on this page').check();
  await page.getByLabel('Action for the selected comments').selectOption('approve');
  await Promise.all([
    page.waitForEvent('load'),
    page.getByRole('button', { name: 'Apply to selected' }).click(),
  ]);
  await waitText(page.locator('#flash'), 'Saved.');
  const thread = await world.api.thread('moderated', slug);
  assert.deepEqual(thread.comments.map((c) => c.id), ids);

  await page.getByRole('link', { name: 'Threads' }).click();
  const row = page.locator('article.thread', { hasText: slug });
  await Promise.all([
    page.waitForEvent('load'),
    row.getByRole('button', { name: 'Lock' }).click(),
  ]);
  await row.getByText('locked').waitFor({ state: 'visible' });
  assert.equal((await world.api.thread('moderated', slug)).thread.locked, true);
  const refused = await world.api.call('POST', `/api/v1/comments?site=moderated&slug=${encodeURIComponent(slug)}`, { body: 'late' });
  assert.equal(refused.status, 409);
  await w.check();
  await context.close();
});

test('the Mail tab: the outbox, and why nothing is sent without [smtp]', async () => {
  const { context, page, w } = await openAdmin('/admin/login', { width: 360, height: 740 });
  await logIn(page);
  await page.getByRole('link', { name: 'Mail', exact: true }).click();
  await page.waitForURL(`${world.server.origin}/admin/mail`);
  await waitText(page.locator('main'), 'Email is off');
  await waitText(page.locator('main'), 'No mail here.');
  assert.equal(await page.getByRole('button', { name: 'Send now' }).isDisabled(), true);
  await page.getByRole('link', { name: 'Failed', exact: true }).click();
  await page.waitForURL(`${world.server.origin}/admin/mail?status=failed`);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px`);
  assert.deepEqual(await axe(page), [], 'axe on the Mail tab');
  await w.check();
  await context.close();
});
