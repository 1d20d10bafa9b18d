// The built bundles stay within their gzipped budgets (budgets.json). CI
// rebuilds dist/ and fails on any difference, so these are the shipped bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const root = new URL('../../', import.meta.url);
const budgets = JSON.parse(readFileSync(new URL('budgets.json', root), 'utf8'));

for (const [name, limit] of Object.entries(budgets)) {
  test(`dist/${name} is at most ${limit} bytes gzipped`, () => {
    const bytes = readFileSync(new URL('dist/' + name, root));
    const size = gzipSync(bytes, { level: 9 }).length;
    assert.ok(size <= limit, `dist/${name} is ${size} bytes gzipped, over its budget of ${limit}`);
  });
}

test('embed.js carries its styles and all five languages', () => {
  // Non-ASCII characters are shipped as \u escapes.
  const js = readFileSync(new URL('dist/embed.js', root), 'utf8').replace(/\\u([0-9a-f]{4})/gi, (_, x) =>
    String.fromCharCode(parseInt(x, 16)),
  );
  for (const s of [
    '.aw-root',
    'prefers-color-scheme',
    'Post comment',
    'Kommentar senden',
    'Publier le commentaire',
    'Publicar comentario',
    '发表评论',
  ]) {
    assert.ok(js.includes(s), `embed.js lacks ${s}`);
  }
});
