import { test } from 'node:test';
import assert from 'node:assert/strict';
import { duration, exactTime, relativeTime } from '../../src/time.js';

const now = Date.parse('2026-05-15T12:00:00Z');
const ago = (s) => new Date(now - s * 1000);

test('relative times pick the largest fitting unit', () => {
  assert.equal(relativeTime(ago(5), now, 'en'), 'now');
  assert.equal(relativeTime(ago(59), now, 'en'), 'now');
  assert.equal(relativeTime(ago(60), now, 'en'), '1 minute ago');
  assert.equal(relativeTime(ago(60 * 5 + 30), now, 'en'), '5 minutes ago');
  assert.equal(relativeTime(ago(3600 * 3), now, 'en'), '3 hours ago');
  assert.equal(relativeTime(ago(86400), now, 'en'), 'yesterday');
  assert.equal(relativeTime(ago(86400 * 3), now, 'en'), '3 days ago');
  assert.equal(relativeTime(ago(86400 * 14), now, 'en'), '2 weeks ago');
  assert.equal(relativeTime(ago(86400 * 65), now, 'en'), '2 months ago');
  assert.equal(relativeTime(ago(86400 * 800), now, 'en'), '2 years ago');
});

test('a time in the future (clock skew) reads as now', () => {
  assert.equal(relativeTime(new Date(now + 60000), now, 'en'), 'now');
});

test('relative times are localized', () => {
  assert.equal(relativeTime(ago(300), now, 'de'), 'vor 5 Minuten');
  assert.equal(relativeTime(ago(300), now, 'fr'), 'il y a 5 minutes');
  assert.equal(relativeTime(ago(300), now, 'es'), 'hace 5 minutos');
  assert.equal(relativeTime(ago(300), now, 'zh'), '5分钟前');
});

test('durations round up to minutes, seconds under one minute', () => {
  assert.equal(duration(14 * 60000 + 1, 'en'), '15 minutes');
  assert.equal(duration(60000, 'en'), '1 minute');
  assert.equal(duration(42000, 'en'), '42 seconds');
  assert.equal(duration(-5, 'en'), '0 seconds');
  assert.equal(duration(120000, 'de'), '2 Minuten');
});

test('exact time names the date and the time', () => {
  const s = exactTime(new Date('2026-05-15T12:34:00Z'), 'en');
  assert.match(s, /May 15, 2026/);
  assert.match(s, /\d{1,2}:34/);
});
