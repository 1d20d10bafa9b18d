// The harness's own watchers catch what they are there to catch, so a quiet pass elsewhere
// means something: a dialog, a page error, a CSP violation, a third-origin request and an
// axe violation are each seen.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { setup, freshSlug, open, threadShown, axe, until } from './harness.mjs';

let world;
before(async () => {
  world = await setup();
});
after(async () => {
  await world?.close();
});

test('check() fails on a dialog, a page error, a CSP violation and a foreign request', async () => {
  const p = await open(world, `${freshSlug('watch')}?csp=1`);
  try {
    await threadShown(p.page);
    await p.check(); // clean so far
    await p.page.evaluate(() => {
      setTimeout(() => alert('boo'));
      setTimeout(() => { throw new Error('kaboom'); });
      const s = document.createElement('style');
      s.textContent = 'body{color:red}';
      document.head.append(s);
    });
    // A request to a third origin (nothing listens there; the attempt is what counts).
    await p.page.evaluate(() => { const i = new Image(); i.src = 'http://127.0.0.2:9/pixel.gif'; document.body.append(i); });
    await until(() => p.dialogs.length && p.errors.length, { message: 'dialog and error seen' });
    await until(() => p.page.evaluate(() => window.__awViolations.length > 0), { message: 'CSP violation seen' });
    await until(() => p.requests.some((r) => r.url.startsWith('http://127.0.0.2:9/')), { message: 'foreign request seen' });
    const err = await p.check().then(() => null, (e) => e);
    assert.ok(err, 'check() must fail');
    assert.match(err.message, /requests left the blog and API origins/);
    p.requests.length = 0;
    const err2 = await p.check().then(() => null, (e) => e);
    assert.match(err2.message, /page errors/);
    p.errors.length = 0;
    const err3 = await p.check().then(() => null, (e) => e);
    assert.match(err3.message, /dialogs/);
    p.dialogs.length = 0;
    const err4 = await p.check().then(() => null, (e) => e);
    assert.match(err4.message, /CSP violations/);
  } finally {
    await p.close();
  }
});

test('axe() reports a serious violation when there is one', async () => {
  const p = await open(world, freshSlug('axe-self'));
  try {
    await threadShown(p.page);
    await p.page.evaluate(() => {
      const b = document.createElement('button');
      document.querySelector('.aw-root').append(b); // a button with no name: critical
    });
    const v = await axe(p.page);
    assert.ok(v.some((x) => /button-name/.test(x)), v.join('\n'));
  } finally {
    await p.close();
  }
});
