// The scripts and compressed answers as HTTP sees them (no browser needed): type, ETag,
// caching, gzip and brotli when accepted, 304 on If-None-Match, and the size budget.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import zlib from 'node:zlib';
import { readFileSync } from 'node:fs';
import { setup, freshSlug } from './harness.mjs';

let world;
before(async () => {
  world = await setup({ browser: false });
});
after(async () => {
  await world?.close();
});

// A GET that keeps the raw (possibly compressed) bytes, unlike fetch.
function get(path, headers = {}) {
  const u = new URL(world.server.origin + path);
  return new Promise((resolve, reject) => {
    http.get({ host: u.hostname, port: u.port, path: u.pathname + u.search, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

function decode(r) {
  switch (r.headers['content-encoding']) {
    case 'gzip': return zlib.gunzipSync(r.body);
    case 'br': return zlib.brotliDecompressSync(r.body);
    case undefined: return r.body;
    default: throw new Error(`unexpected encoding ${r.headers['content-encoding']}`);
  }
}

const vary = (r) => (r.headers.vary || '').toLowerCase();

// Every script of budgets.json: the first load, the counts and the chunks loaded on demand.
const BUDGETS = JSON.parse(readFileSync(new URL('../../budgets.json', import.meta.url), 'utf8'));
for (const [name, budget] of Object.entries(BUDGETS)) {
  test(`/${name}: type, ETag, caching, gzip and br, 304, within ${budget} bytes gzipped`, async () => {
    const plain = await get(`/${name}`);
    assert.equal(plain.status, 200);
    assert.equal(plain.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.ok(plain.headers.etag, 'an ETag');
    const maxAge = Number(/max-age=(\d+)/.exec(plain.headers['cache-control'] || '')?.[1]);
    assert.ok(maxAge >= 3600, `Cache-Control keeps it a while: ${plain.headers['cache-control']}`);
    assert.ok(vary(plain).includes('accept-encoding'), `Vary: ${plain.headers.vary}`);
    assert.ok(plain.body.length > 100 && plain.body.toString().length > 0);

    const gz = await get(`/${name}`, { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    assert.ok(decode(gz).equals(plain.body), 'gzip decodes to the same script');
    assert.ok(gz.body.length <= budget, `${name} is ${gz.body.length} bytes gzipped, budget ${budget}`);

    const br = await get(`/${name}`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(br.headers['content-encoding'], 'br');
    assert.ok(decode(br).equals(plain.body), 'br decodes to the same script');
    assert.ok(br.body.length <= gz.body.length);
    console.log(`# ${name}: ${plain.body.length} B plain, ${gz.body.length} B gzip, ${br.body.length} B br`);

    for (const r of [plain, gz, br]) {
      const again = await get(`/${name}`, { 'if-none-match': r.headers.etag, 'accept-encoding': r.headers['content-encoding'] || 'identity' });
      assert.equal(again.status, 304, `304 for ${r.headers.etag}`);
      assert.equal(again.body.length, 0);
    }
    // A weak form, as some proxies send it, matches too.
    const weak = await get(`/${name}`, { 'if-none-match': `W/${plain.headers.etag}` });
    assert.equal(weak.status, 304);
    // HEAD works (uptime checks, link checkers).
    const head = await fetch(world.server.origin + `/${name}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
  });
}

test('thread pages and counts are compressed when accepted, and 304 still works', async () => {
  const slug = freshSlug('compressed');
  for (let i = 0; i < 12; i++) await world.api.post('blog', slug, { body: `Comment ${i}: ${'lorem ipsum dolor sit amet '.repeat(4)}` });
  const path = `/api/v1/comments?site=blog&slug=${encodeURIComponent(slug)}`;
  const plain = await get(path);
  const gz = await get(path, { 'accept-encoding': 'gzip' });
  const br = await get(path, { 'accept-encoding': 'br, gzip' });
  assert.equal(gz.headers['content-encoding'], 'gzip');
  assert.equal(br.headers['content-encoding'], 'br');
  assert.ok(vary(gz).includes('accept-encoding'));
  assert.deepEqual(JSON.parse(decode(gz)), JSON.parse(plain.body));
  assert.deepEqual(JSON.parse(decode(br)), JSON.parse(plain.body));
  assert.ok(JSON.parse(plain.body).site, 'the thread answer carries the site object');
  for (const r of [plain, gz, br]) {
    const again = await get(path, { 'if-none-match': r.headers.etag, 'accept-encoding': r.headers['content-encoding'] || 'identity' });
    assert.equal(again.status, 304);
  }
  const many = Array.from({ length: 200 }, (_, i) => `slug=${encodeURIComponent(`/p/${i}/`)}`).join('&');
  const counts = await get(`/api/v1/counts?site=blog&${many}`, { 'accept-encoding': 'gzip' });
  assert.equal(counts.status, 200);
  assert.equal(counts.headers['content-encoding'], 'gzip');
  assert.equal(Object.keys(JSON.parse(decode(counts)).counts).length, 200);
});

test('the thread answer tells the embed about the site (no extra config round trip)', async () => {
  const r = await world.api.thread('moderated', freshSlug('site-object'));
  assert.equal(r.site.moderation, 'all');
  for (const k of ['edit_window', 'max_length', 'notifications']) assert.ok(k in r.site, `site.${k}`);
  assert.equal(r.site.notifications, false, 'no SMTP configured: no "notify me" box');
});
