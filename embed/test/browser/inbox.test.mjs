// "Notify me of replies": the server mails the confirmation link to an address not
// confirmed yet and answers `confirmation_sent` whatever the address (no oracle), and
// the embed tells the reader to check their inbox if this is their first time, on
// screen and through the live region, in the page's language.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setup, startSmtpSink, freshSlug, withPage, threadShown, mainForm, submit, waitText, until, axe,
} from './harness.mjs';

let world;
let sink;
before(async () => {
  sink = await startSmtpSink();
  world = await setup({
    smtp: { url: `smtp://127.0.0.1:${sink.port}`, from: 'Afterword <comments@example.com>', retry_after: '1s' },
  });
});
after(async () => {
  await world?.close();
  await sink?.close();
});

const NOTICE = 'First time here? Check your inbox.';

// Whether one of the message's (base64) parts holds a confirmation link.
const hasConfirmLink = (data) =>
  data
    .split('\r\n--')
    .some((part) =>
      Buffer.from(part.split('\r\n\r\n').slice(1).join('').replace(/\s/g, ''), 'base64')
        .toString()
        .includes('/mail/confirm?t='),
    );

test('notify ticked, a new address: the confirmation mail goes out and the embed says to check the inbox', async () => {
  const slug = freshSlug('inbox');
  await withPage(world, slug, async ({ page }) => {
    await threadShown(page);
    const form = mainForm(page);
    const notify = page.getByLabel('Notify me of replies');
    await notify.check();
    const r = await submit(page, form, { body: 'Tell me when someone answers', author: 'Ann', email: 'ann@example.org' });
    assert.equal(r.status, 201);
    assert.equal(r.json.confirmation_sent, true);
    const status = page.locator('.aw-status');
    await waitText(status, NOTICE);
    assert.ok(await status.isVisible(), 'the notice is on screen');
    await waitText(page.locator('.aw-live'), `Comment published. ${NOTICE}`);
    await axe(page);
    // The mail it speaks of is real: the confirmation link reached the SMTP server.
    await until(() => sink.messages.some((m) => m.to.includes('ann@example.org') && hasConfirmLink(m.data)), {
      message: 'the confirmation mail at the SMTP server',
    });

    // The next comment asks for no mail: no notice.
    await notify.uncheck();
    const r2 = await submit(page, form, { body: 'And one more thing' });
    assert.equal(r2.status, 201);
    assert.equal(r2.json.confirmation_sent, false);
    await waitText(page.locator('.aw-live'), 'Comment published.');
    await until(async () => !(await status.isVisible()), { message: 'the notice gone' });
  });
});

test('without notify ticked no notice is shown; with it, the notice speaks the page language', async () => {
  const slug = freshSlug('inbox-de');
  await withPage(world, `${slug}?lang=de`, async ({ page }) => {
    await threadShown(page);
    const form = mainForm(page);
    // The German form's labels: Kommentar, E-Mail, Kommentar senden.
    const send = async (body) => {
      await form.getByRole('textbox', { name: 'Kommentar', exact: true }).fill(body);
      await form.getByRole('textbox', { name: 'E-Mail', exact: true }).fill('bo@example.org');
      const answer = page.waitForResponse((r) => /\/api\/v1\/comments\?/.test(r.url()) && r.request().method() === 'POST');
      await form.getByRole('button', { name: 'Kommentar senden' }).click();
      return (await answer).json();
    };
    assert.equal((await send('Ohne Benachrichtigung')).confirmation_sent, false);
    await waitText(page.locator('.aw-live'), 'Kommentar veröffentlicht.');
    assert.equal(await page.locator('.aw-status').isVisible(), false);

    await page.getByLabel('Bei Antworten benachrichtigen').check();
    assert.equal((await send('Mit Benachrichtigung')).confirmation_sent, true);
    await waitText(page.locator('.aw-status'), 'Zum ersten Mal? Bitte Postfach prüfen.');
    await waitText(page.locator('.aw-live'), 'Kommentar veröffentlicht. Zum ersten Mal? Bitte Postfach prüfen.');
  });
});

test('Follow this thread: the form asks for an address, the confirmation mail goes out, the embed says to check it', async () => {
  const slug = freshSlug('follow');
  await world.api.post('blog', slug, { body: 'Something to follow', author: 'Ann' });
  await withPage(world, slug, async ({ page, requests }) => {
    await threadShown(page, 1);
    const chunk = () => requests.filter((r) => r.url.endsWith('/embed-write.js')).length;
    assert.equal(chunk(), 0, 'the form comes with the write chunk, on demand');
    await page.getByRole('button', { name: 'Follow this thread' }).click();
    const form = page.locator('form.aw-follow-form');
    await form.waitFor({ state: 'visible' });
    assert.equal(chunk(), 1);
    const email = form.getByRole('textbox', { name: 'Email', exact: true });
    await until(() => email.evaluate((el) => el === document.activeElement), { message: 'focus in the email field' });
    assert.deepEqual(await axe(page), []);
    await email.fill('fay@example.org');
    const answer = page.waitForResponse((r) => r.url().includes('/api/v1/subscriptions?') && r.request().method() === 'POST');
    await form.getByRole('button', { name: 'Follow', exact: true }).click();
    assert.equal((await answer).status(), 202);
    await waitText(page.locator('.aw-followed'), 'Check your mail to confirm.');
    await waitText(page.locator('.aw-live'), 'Check your mail to confirm.');
    assert.equal(await form.count(), 0, 'the form gave way to the notice');
    await until(() => sink.messages.some((m) => m.to.includes('fay@example.org') && hasConfirmLink(m.data)), {
      message: 'the follow confirmation mail at the SMTP server',
    });
  });
});

test('Follow this thread in German: a refused address is explained in German at the field', async () => {
  const slug = freshSlug('follow-de');
  await world.api.post('blog', slug, { body: 'Etwas zum Folgen', author: 'Bo' });
  await withPage(world, `${slug}?lang=de`, async ({ page, requests }) => {
    await threadShown(page, 1);
    await page.getByRole('button', { name: 'Diesem Thread folgen' }).click();
    const form = page.locator('form.aw-follow-form');
    const email = form.getByRole('textbox', { name: 'E-Mail', exact: true });
    await email.fill('not an address');
    const answer = page.waitForResponse((r) => r.url().includes('/api/v1/subscriptions?'));
    await form.getByRole('button', { name: 'Folgen', exact: true }).click();
    const r = await answer;
    assert.equal(r.status(), 422);
    assert.equal((await r.json()).error.code, 'invalid_email');
    // The server speaks English; the refusals chunk has the German words.
    await waitText(form.locator('.aw-error'), 'Diese E-Mail-Adresse ist ungültig.');
    assert.equal(await email.getAttribute('aria-invalid'), 'true');
    assert.equal(requests.filter((x) => x.url.endsWith('/embed-refusals.js')).length, 1);
    await email.fill('bo@example.org');
    await form.getByRole('button', { name: 'Folgen', exact: true }).click();
    await waitText(page.locator('.aw-followed'), 'Bitte über den Link in Ihrem Postfach bestätigen.');
  });
});
