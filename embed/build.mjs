// Builds dist/embed.js and dist/count.js: minified IIFE bundles, the same
// bytes for the same sources (CI rebuilds and diffs them).
//   node build.mjs          build
//   node build.mjs --size   build, then print gzip sizes against the budgets
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants as zlibConstants, gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';
import { minify } from 'terser';

const here = dirname(fileURLToPath(import.meta.url));
// Gzipped size limits, shared with test/unit/size.test.js.
export const BUDGETS = JSON.parse(await readFile(join(here, 'budgets.json'), 'utf8'));

// style.css is imported as a string, minified first.
const cssAsText = {
  name: 'css-as-text',
  setup(build) {
    build.onLoad({ filter: /\.css$/ }, async (args) => {
      const css = await readFile(args.path, 'utf8');
      const { code } = await esbuild.transform(css, { loader: 'css', minify: true, target: 'chrome100' });
      // esbuild keeps the space after a custom property's colon; it is not needed.
      return { contents: code.trim().replace(/(--[\w-]+): /g, '$1:'), loader: 'text' };
    });
  },
};

export async function build() {
  const out = {};
  for (const name of Object.keys(BUDGETS)) {
    // The chunks embed.js loads on demand, embed-NAME.js, are built from src/NAME.js:
    // embed-write.js (writing) and embed-elsewhere.js (comments from elsewhere).
    const entry = name.replace(/^embed-/, '');
    const result = await esbuild.build({
      entryPoints: [join(here, 'src', entry)],
      bundle: true,
      format: 'iife',
      minify: true,
      // ES2022, as the sources already need (Object.hasOwn): `||=` and `?.` ship as
      // written instead of lowered.
      target: ['es2022'],
      charset: 'utf8',
      legalComments: 'none',
      write: false,
      plugins: [cssAsText],
      logLevel: 'warning',
    });
    // A second pass by terser: about 3 % less than esbuild's own minification (arrows
    // for functions, merged statements). ASCII only: the emoji, accents and Chinese of
    // the strings as \u escapes gzip about 1 % smaller than as UTF-8 bytes. Hoisted
    // function declarations gzip better too.
    const { code } = await minify(result.outputFiles[0].text, {
      ecma: 2020,
      compress: { passes: 3, unsafe_arrows: true, pure_getters: true, hoist_funs: true },
      format: { ascii_only: true, comments: false },
    });
    out[name] = Buffer.from(code);
  }
  // The same styles as a stylesheet, for the server's HTML fragment (/embed.css): a page
  // holding the fragment looks the same before and after the script takes it over.
  const css = await readFile(join(here, 'src', 'style.css'), 'utf8');
  const { code: cssCode } = await esbuild.transform(css, { loader: 'css', minify: true, target: 'chrome100', charset: 'utf8' });
  out['embed.css'] = Buffer.from(cssCode.trim().replace(/(--[\w-]+): /g, '$1:') + '\n');
  await mkdir(join(here, 'dist'), { recursive: true });
  for (const [name, bytes] of Object.entries(out)) {
    await writeFile(join(here, 'dist', name), bytes);
    // The compressed forms the server sends (it embeds these files): made here once, so
    // that no server start spends its first tens of milliseconds compressing them.
    await writeFile(join(here, 'dist', `${name}.gz`), gzipSync(bytes, { level: 9, mtime: 0 }));
    await writeFile(
      join(here, 'dist', `${name}.br`),
      brotliCompressSync(bytes, {
        params: {
          [zlibConstants.BROTLI_PARAM_MODE]: zlibConstants.BROTLI_MODE_TEXT,
          [zlibConstants.BROTLI_PARAM_QUALITY]: zlibConstants.BROTLI_MAX_QUALITY,
          [zlibConstants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }),
    );
  }
  return out;
}

export const gzipSize = (bytes) => gzipSync(bytes, { level: 9 }).length;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = await build();
  if (process.argv.includes('--size')) {
    let over = false;
    for (const [name, bytes] of Object.entries(out)) {
      if (!(name in BUDGETS)) continue;
      const gz = gzipSize(bytes);
      over ||= gz > BUDGETS[name];
      console.log(
        `${name.padEnd(9)} ${String(bytes.length).padStart(6)} B  gzip ${String(gz).padStart(5)} B  budget ${BUDGETS[name]} B`,
      );
    }
    if (over) {
      console.error('over budget');
      process.exit(1);
    }
  }
}
