// The first minute: a server started with no config file at all serves a sample article
// at `/` with the embed working on it (under the demo's own strict CSP).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  startServer, launch, watch, threadShown, mainForm, submit, comment, waitText, until, setup,
} from './harness.mjs';

let server;
let browser;
before(async () => {
  server = await startServer({ config: false });
  browser = await launch();
});
after(async () => {
  await browser?.close().catch(() => {});
  await server?.stop();
});

test('`/` on a zero-config server shows the sample article with working comments', async () => {
  const context = await browser.newContext({ viewport: { width: 1024, height: 800 } });
  const page = await context.newPage();
  const w = watch(page, [server.origin]);
  try {
    const res = await page.goto(server.origin + '/');
    assert.equal(res.status(), 200);
    assert.match(res.headers()['content-type'], /^text\/html/);
    assert.ok(res.headers()['content-security-policy'], 'the demo sends a CSP');
    assert.ok((await page.locator('h1').first().textContent()).trim().length > 0);
    await page.locator('#afterword').scrollIntoViewIfNeeded();
    await threadShown(page);

    // A person takes a few seconds to write: the default spam checks file a comment posted
    // sooner than 3 s after the thread loaded as spam.
    await new Promise((r) => setTimeout(r, 3100));
    const r = await submit(page, mainForm(page), { body: 'Trying Afterword out', author: 'Newcomer' });
    assert.equal(r.status, 201);
    await waitText(comment(page, r.json.comment.id).locator('.aw-body'), 'Trying Afterword out');
    await waitText(page.locator('.aw-heading'), /\b1 comment\b/);

    // The header's count (a data-afterword-count element on the same page) shows it after a reload.
    await page.reload();
    await threadShown(page, 1);
    const count = page.locator('[data-afterword-count]').first();
    if ((await count.count()) > 0) await until(async () => (await count.textContent()).trim() === '1', { message: 'header count 1' });
    await w.check();
  } finally {
    await context.close();
  }
});

test('no demo once a config file declares sites', async () => {
  const world = await setup({ browser: false });
  try {
    const r = await fetch(world.server.origin + '/');
    assert.equal(r.status, 404);
  } finally {
    await world.close();
  }
});
