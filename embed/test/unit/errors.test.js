import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errorMessage } from '../../src/errors.js';
import { makeT } from '../../src/i18n.js';

const t = makeT('en');

test("the server's message and field are shown as they are", () => {
  const res = {
    status: 422,
    data: { error: { code: 'invalid_email', message: 'email must be an email address.', field: 'email' } },
  };
  assert.deepEqual(errorMessage(res, t), { message: 'email must be an email address.', field: 'email' });
  const locked = { status: 409, data: { error: { code: 'thread_locked', message: 'This thread is locked.' } } };
  assert.deepEqual(errorMessage(locked, t), { message: 'This thread is locked.', field: null });
  const rate = { status: 429, data: { error: { code: 'rate_limited', message: 'Too many comments; wait 30 s.' } } };
  assert.equal(errorMessage(rate, t).message, 'Too many comments; wait 30 s.');
});

test('no answer at all is a network error, localized', () => {
  assert.deepEqual(errorMessage({ status: 0, data: null }, t), {
    message: 'Network error; your text is kept.',
    field: null,
  });
  assert.equal(errorMessage({ status: 0 }, makeT('de')).message, 'Netzwerkfehler. Ihr Text bleibt erhalten.');
});

test('an answer without a usable error body gets the generic message', () => {
  for (const res of [
    { status: 502, data: null },
    { status: 500, data: 'oops' },
    { status: 400, data: { error: { message: '' } } },
    { status: 400, data: { error: 'flat string' } },
  ]) {
    assert.equal(errorMessage(res, t).message, 'Something went wrong.');
  }
});
