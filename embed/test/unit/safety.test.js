// Static checks over the sources: the rules of issue item 8 that a reviewer
// would otherwise have to re-check by eye on every change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';

const dir = new URL('../../src/', import.meta.url);
const sources = Object.fromEntries(
  readdirSync(dir)
    .filter((f) => f.endsWith('.js'))
    .map((f) => [f, readFileSync(new URL(f, dir), 'utf8')]),
);
const code = (s) => s.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');

test('innerHTML is assigned only the server-sanitized html: a comment, a preview', () => {
  const uses = [];
  for (const [f, s] of Object.entries(sources)) {
    for (const m of code(s).matchAll(/\.innerHTML\s*=[^=]([^;\n]*)/g)) uses.push([f, m[1].trim()]);
  }
  assert.deepEqual(uses, [['thread.js', 'c.html'], ['write.js', 'res.data.html']]);
});

test('no other HTML sinks, no eval, no cookies, no inline styles or handlers', () => {
  const banned = [
    /outerHTML\s*=/,
    /insertAdjacentHTML/,
    /document\.write/,
    /\beval\s*\(/,
    /new\s+Function/,
    /setTimeout\(\s*['"`]/,
    /document\.cookie/,
    /credentials:\s*['"](include|same-origin)/,
    /setAttribute\(\s*['"](style|on\w+)['"]/,
    /\bstyle:\s*['"][^'"]*:/, // a CSS declaration as a prop
    /\.cssText/,
    /createContextualFragment|DOMParser/,
  ];
  for (const [f, s] of Object.entries(sources)) {
    for (const re of banned) assert.doesNotMatch(code(s), re, `${f}: ${re}`);
  }
});

test('every fetch goes through api.js, without cookies', () => {
  for (const [f, s] of Object.entries(sources)) {
    if (f !== 'api.js') assert.doesNotMatch(code(s), /\bfetch\(|XMLHttpRequest|sendBeacon|new Image|new WebSocket/, f);
  }
  assert.match(sources['api.js'], /credentials: 'omit'/);
});
