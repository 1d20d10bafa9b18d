import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore, safeStorage, DAY } from '../../src/storage.js';

function memory() {
  const m = new Map();
  return {
    m,
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    setItem: (k, v) => void m.set(k, String(v)),
    removeItem: (k) => void m.delete(k),
  };
}

test('entries are kept until their expiry, then purged from storage', () => {
  const backend = memory();
  let now = 1000;
  const store = createStore(backend, () => now);
  store.set('tokens:blog', 12, { t: 'tok12', e: 1000 + 900e3, b: 'hello' });
  store.set('tokens:blog', 13, { t: 'tok13', e: 1000 + 60e3 });
  assert.deepEqual(Object.keys(store.get('tokens:blog')), ['12', '13']);
  assert.equal(store.get('tokens:blog')[12].b, 'hello');
  now += 61e3;
  assert.deepEqual(Object.keys(store.get('tokens:blog')), ['12']);
  // The purge is written back, not just hidden.
  assert.deepEqual(Object.keys(JSON.parse(backend.m.get('afterword:tokens:blog'))), ['12']);
  now += 900e3;
  assert.deepEqual(store.get('tokens:blog'), {});
  assert.equal(backend.m.has('afterword:tokens:blog'), false);
});

test('set without a value forgets one entry; the last one removes the key', () => {
  const backend = memory();
  const store = createStore(backend, () => 0);
  store.set('pending:blog:/p/', 5, { t: 'x', e: DAY, c: { id: 5, status: 'pending' } });
  store.set('pending:blog:/p/', 6, { t: 'y', e: DAY, c: { id: 6, status: 'pending' } });
  store.set('pending:blog:/p/', 5);
  assert.deepEqual(Object.keys(store.get('pending:blog:/p/')), ['6']);
  store.set('pending:blog:/p/', 6);
  assert.equal(backend.m.size, 0);
});

test('keys are separate per site and slug', () => {
  const store = createStore(memory(), () => 0);
  store.set('draft:a:/x/', 0, { b: 'draft a', e: DAY });
  store.set('draft:b:/x/', 0, { b: 'draft b', e: DAY });
  store.set('draft:a:/x/', 7, { b: 'reply draft', e: DAY });
  assert.equal(store.get('draft:a:/x/')[0].b, 'draft a');
  assert.equal(store.get('draft:a:/x/')[7].b, 'reply draft');
  assert.equal(store.get('draft:b:/x/')[0].b, 'draft b');
  assert.deepEqual(store.get('draft:a:/y/'), {});
});

test('entries without a valid expiry and corrupt JSON are dropped, never thrown', () => {
  const backend = memory();
  backend.setItem('afterword:tokens:s', '{"1":{"t":"a"},"2":null,"3":{"t":"c","e":"soon"},"4":{"t":"d","e":99}}');
  backend.setItem('afterword:draft:s:/p/', '{not json');
  const store = createStore(backend, () => 50);
  assert.deepEqual(Object.keys(store.get('tokens:s')), ['4']);
  assert.deepEqual(store.get('draft:s:/p/'), {});
});

test('a backend that throws (full, forbidden) or is missing degrades to remembering nothing', () => {
  const throwing = {
    getItem() {
      throw new Error('SecurityError');
    },
    setItem() {
      throw new Error('QuotaExceededError');
    },
    removeItem() {
      throw new Error('SecurityError');
    },
  };
  for (const backend of [throwing, null]) {
    const store = createStore(backend, () => 0);
    assert.doesNotThrow(() => store.set('me', 'p', { author: 'A', e: DAY }));
    assert.deepEqual(store.get('me'), {});
  }
  const win = {
    get localStorage() {
      throw new Error('SecurityError');
    },
  };
  assert.equal(safeStorage(win), null);
  const ls = memory();
  assert.equal(safeStorage({ localStorage: ls }), ls);
});
