import { test } from 'node:test';
import assert from 'node:assert/strict';
import { avatarPath, avatarShape, drawAvatar } from '../../src/avatar.js';

test('the same seed always gives the same shape; different seeds differ', () => {
  assert.deepEqual(avatarShape('3f9a1c'), avatarShape('3f9a1c'));
  const seen = new Set();
  for (let i = 0; i < 200; i++) {
    const { hue, cells } = avatarShape('seed-' + i);
    seen.add(hue + ':' + cells.map(Number).join(''));
  }
  assert.ok(seen.size > 190, `only ${seen.size} distinct avatars out of 200`);
});

test('shapes are mirrored left to right, never empty, hue in range', () => {
  for (const seed of ['', 'a', 'b4c2', '🙂', null, undefined, 'x'.repeat(500)]) {
    const { hue, cells } = avatarShape(seed);
    assert.equal(cells.length, 25);
    assert.ok(cells.some(Boolean));
    assert.ok(Number.isInteger(hue) && hue >= 0 && hue < 360);
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) assert.equal(cells[y * 5 + x], cells[y * 5 + 4 - x]);
  }
});

test('the path draws one unit square per filled cell', () => {
  const cells = Array(25).fill(false);
  cells[0] = cells[24] = true;
  assert.equal(avatarPath(cells), 'M0 0h1v1h-1zM4 4h1v1h-1z');
});

test('drawAvatar builds an aria-hidden SVG through createElementNS only', () => {
  const made = [];
  const fakeEl = (ns, name) => {
    const el = { ns, name, attrs: {}, kids: [] };
    el.setAttribute = (k, v) => (el.attrs[k] = String(v));
    el.append = (...k) => el.kids.push(...k);
    made.push(el);
    return el;
  };
  const doc = { createElementNS: fakeEl };
  const svg = drawAvatar(doc, 'seed');
  assert.equal(svg.name, 'svg');
  assert.equal(svg.ns, 'http://www.w3.org/2000/svg');
  assert.equal(svg.attrs.class, 'aw-avatar');
  assert.equal(svg.attrs['aria-hidden'], 'true');
  assert.equal(svg.kids[0].name, 'path');
  assert.match(svg.kids[0].attrs.fill, /^hsl\(\d+,55%,42%\)$/);
  assert.ok(made.every((e) => e.ns === 'http://www.w3.org/2000/svg'));
});
