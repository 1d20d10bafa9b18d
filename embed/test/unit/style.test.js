// The default colors of both themes meet WCAG AA contrast (4.5:1) for every
// pair the stylesheet puts together, and every class is prefixed aw-.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

const css = readFileSync(new URL('../../src/style.css', import.meta.url), 'utf8');

function vars(selector) {
  const start = css.indexOf(selector + ' {');
  assert.ok(start >= 0, selector);
  const body = css.slice(start, css.indexOf('}', start));
  return Object.fromEntries([...body.matchAll(/--afterword-([\w-]+):\s*(#[0-9a-f]{3,6})/g)].map((m) => [m[1], m[2]]));
}

function luminance(hex) {
  let h = hex.slice(1);
  if (h.length === 3) h = [...h].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(h.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
const contrast = (a, b) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
  return (x + 0.05) / (y + 0.05);
};

// text color → the backgrounds it is drawn on
const PAIRS = {
  fg: ['bg', 'surface', 'highlight'],
  muted: ['bg', 'surface', 'highlight'],
  accent: ['bg', 'highlight'],
  error: ['bg'],
  'on-accent': ['accent'],
};

for (const [theme, selector] of [
  ['light', ':where(.aw-root)'],
  ['dark', ':where(.aw-root[data-theme="dark"])'],
  ['auto dark', ':where(.aw-root[data-theme="auto"])'],
]) {
  test(`${theme} theme colors reach 4.5:1`, () => {
    const v = vars(selector);
    for (const [fg, bgs] of Object.entries(PAIRS)) {
      for (const bg of bgs) {
        const r = contrast(v[fg], v[bg]);
        assert.ok(r >= 4.5, `${theme}: ${fg} ${v[fg]} on ${bg} ${v[bg]} is ${r.toFixed(2)}:1`);
      }
    }
  });
}

test('the auto theme in dark mode uses exactly the dark colors', () => {
  assert.deepEqual(vars(':where(.aw-root[data-theme="auto"])'), vars(':where(.aw-root[data-theme="dark"])'));
});

test('every class in the stylesheet starts with aw-', () => {
  const classes = [...css.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/\.(-?[_a-zA-Z][\w-]*)/g)].map((m) => m[1]);
  assert.ok(classes.length > 20);
  for (const c of classes) assert.match(c, /^aw-/);
});

test('identicons are outlined on the dark themes only, the outline clear on the dark surfaces (3:1)', () => {
  const outline = (selector) => {
    const start = css.indexOf(selector + ' {');
    const body = css.slice(start, css.indexOf('}', start));
    return /--afterword-avatar-outline:\s*(#[0-9a-f]{3,6})/.exec(body)?.[1];
  };
  assert.equal(outline(':where(.aw-root)'), undefined);
  for (const selector of [':where(.aw-root[data-theme="dark"])', ':where(.aw-root[data-theme="auto"])']) {
    const v = vars(selector);
    const o = outline(selector);
    assert.ok(o, selector);
    for (const bg of ['bg', 'surface']) {
      const r = contrast(o, v[bg]);
      assert.ok(r >= 3, `${selector}: outline ${o} on ${bg} ${v[bg]} is ${r.toFixed(2)}:1`);
    }
  }
  assert.match(css, /\.aw-avatar path \{[^}]*stroke: var\(--afterword-avatar-outline, none\)/);
});
