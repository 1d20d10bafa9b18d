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
