import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countRequests, groupBySite } from '../../src/counts.js';

const el = (slug, site) => ({
  getAttribute: (k) => (k === 'data-afterword-count' ? slug : k === 'data-afterword-site' ? (site ?? null) : null),
});

test('elements are grouped by site: their own, else the script default, else "default"', () => {
  const a = el('/a/');
  const b = el('/b/', 'other');
  const c = el('/a/');
  const empty = el('');
  assert.deepEqual(groupBySite([a, b, c, empty], 'blog'), { blog: [a, c], other: [b] });
  assert.deepEqual(groupBySite([a], undefined), { default: [a] });
});

test('one GET for a normal index page', () => {
  const reqs = countRequests('https://c.example/', 'blog', ['/a/', '/b/']);
  assert.deepEqual(reqs, [['GET', { query: { site: 'blog', slug: ['/a/', '/b/'] } }]]);
});

test('POST when the URL would be too long, in chunks of at most 1000 slugs', () => {
  const long = Array.from({ length: 50 }, (_, i) => `/2019/05/15/a-rather-long-post-title-number-${i}/`);
  const [[method, opts]] = countRequests('https://c.example/', 'blog', long);
  assert.equal(method, 'POST');
  assert.deepEqual(opts.body, { site: 'blog', slugs: long });
  const many = Array.from({ length: 2500 }, (_, i) => '/' + i);
  const reqs = countRequests('https://c.example/', 'blog', many);
  assert.equal(reqs.length, 3);
  assert.deepEqual(
    reqs.map(([m, o]) => [m, o.body.slugs.length]),
    [
      ['POST', 1000],
      ['POST', 1000],
      ['POST', 500],
    ],
  );
});

test('reaction totals ride on the same request, GET or POST', () => {
  const [[method, opts]] = countRequests('https://c.example/', 'blog', ['/a/'], true);
  assert.equal(method, 'GET');
  assert.deepEqual(opts.query, { site: 'blog', slug: ['/a/'], reactions: true });
  const long = Array.from({ length: 50 }, (_, i) => `/2019/05/15/a-rather-long-post-title-number-${i}/`);
  const [[post, body]] = countRequests('https://c.example/', 'blog', long, true);
  assert.equal(post, 'POST');
  assert.deepEqual(body.body, { site: 'blog', slugs: long, reactions: true });
});

test('an element with data-afterword-reactions is grouped like a count', () => {
  const r = { getAttribute: (k) => (k === 'data-afterword-reactions' ? '/r/' : null) };
  assert.deepEqual(groupBySite([r], 'blog'), { blog: [r] });
});
