// Time to first comment of the embed in headless Chromium, for benches/bigthread.sh.
//
//   node benches/bigthread_embed.mjs API_BASE SITE SLUG RUNS
//
// Serves a blog page on http://localhost:PORT that embeds API_BASE/embed.js for SLUG, then
// RUNS times: a fresh browser context (empty cache), open the page, and read, from the
// page's own clock, when the first comment entered the DOM (a MutationObserver started
// before any script of the page) and how many comments it showed then. The last run also
// presses "Load more comments" (when there is one) and checks that more comments appear.
// Prints one JSON line. Needs embed/node_modules (cd embed && npm ci).
import http from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chromium } = createRequire(join(root, 'embed', 'package.json'))('playwright-core');
const [api, site, slug, runsArg] = process.argv.slice(2);
const runs = Number(runsArg || 10);
const CHROMIUM = process.env.AFTERWORD_TEST_CHROMIUM || '/usr/bin/chromium';

const page = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Post</title></head>
<body><article><h1>A post</h1><p>Some text of the post.</p></article>
<div id="afterword"></div>
<script src="${api}/embed.js" data-site="${site}" data-slug="${slug}" async></script>
</body></html>`;
const blog = http.createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(page);
});
await new Promise((r) => blog.listen(0, '127.0.0.1', r));
const url = `http://localhost:${blog.address().port}/post/`;

const WATCH = () => {
  window.__aw = { first: null, shown: 0 };
  new MutationObserver((_, obs) => {
    const n = document.querySelectorAll('.aw-comment').length;
    if (n && window.__aw.first === null) {
      window.__aw.first = performance.now();
      window.__aw.shown = n;
      obs.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
};

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const times = [];
let shown = 0;
let more = null;
try {
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.addInitScript(WATCH);
    await p.goto(url);
    await p.waitForFunction(() => window.__aw.first !== null, null, { timeout: 30000 });
    const got = await p.evaluate(() => window.__aw);
    times.push(got.first);
    shown = got.shown;
    if (i === runs - 1) {
      const button = p.locator('.aw-more');
      if (await button.isVisible()) {
        const before = await p.locator('.aw-comment').count();
        await button.click();
        await p.waitForFunction((b) => document.querySelectorAll('.aw-comment').length > b, before, { timeout: 30000 });
        more = { before, after: await p.locator('.aw-comment').count() };
      } else {
        more = { before: shown, after: shown, button: 'none (one page)' };
      }
    }
    await ctx.close();
  }
} finally {
  await browser.close();
  blog.close();
}
const sorted = [...times].sort((a, b) => a - b);
const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
console.log(JSON.stringify({
  runs,
  first_comment_ms: { median: +at(0.5).toFixed(1), p90: +at(0.9).toFixed(1), max: +sorted.at(-1).toFixed(1) },
  comments_at_first_paint: shown,
  load_more: more,
}));
