import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compact, visitorId } from '../../src/reactions.js';
import { createStore } from '../../src/storage.js';

test('counts read short, in the page language; zero shows nothing', () => {
  assert.equal(compact(0, 'en'), '');
  assert.equal(compact(7, 'en'), '7');
  assert.equal(compact(999, 'en'), '999');
  assert.equal(compact(1234, 'en'), '1.2K');
  assert.equal(compact(56789, 'en'), '57K');
  assert.equal(compact(2500000, 'en'), '2.5M');
  assert.equal(compact(1234, 'zh'), '1234');
});

function memory() {
  const m = new Map();
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => m.set(k, v), removeItem: (k) => m.delete(k), m };
}

test('the visitor id is created once, on demand, and kept', () => {
  const backend = memory();
  const store = createStore(backend);
  assert.equal(visitorId(store), undefined, 'not created by a mere read');
  const v = visitorId(store, true);
  assert.match(v, /^\d{4,40}$/);
  assert.equal(visitorId(store, true), v);
  assert.equal(visitorId(createStore(backend)), v, 'survives a reload');
  assert.notEqual(visitorId(createStore(memory()), true), v);
  // Still there in nine years.
  const later = createStore(backend, () => Date.now() + 9 * 365 * 864e5);
  assert.equal(visitorId(later), v);
});
