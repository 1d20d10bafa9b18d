import { test } from 'node:test';
import assert from 'node:assert/strict';
import { safeHttpUrl } from '../../src/dom.js';

test('only http(s) URLs become links', () => {
  assert.equal(safeHttpUrl('https://example.com/a?b=1'), 'https://example.com/a?b=1');
  assert.equal(safeHttpUrl('http://example.com'), 'http://example.com/');
  for (const bad of [
    'javascript:alert(1)',
    ' javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'vbscript:x',
    '//evil.example/',
    '/relative',
    'example.com',
    '',
    null,
    undefined,
    42,
  ]) {
    assert.equal(safeHttpUrl(bad), null, String(bad));
  }
});

test('a quote-breaking URL is returned escaped by the URL parser, never raw', () => {
  const v = safeHttpUrl('https://example.com/"><img src=x onerror=alert(1)>');
  assert.ok(!v.includes('"') && !v.includes('<'), v);
});
