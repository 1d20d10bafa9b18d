import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, parseJSONObject } from '../../src/config.js';
import { apiBase } from '../../src/script.js';

const page = {
  pathname: '/2019/05/15/iclr-2019/',
  href: 'https://blog.example/2019/05/15/iclr-2019/?utm=x#afterword-comment-3',
  title: 'ICLR 2019',
  htmlLang: 'de-AT',
  navLangs: ['fr-FR', 'en'],
};

test('defaults come from the page', () => {
  assert.deepEqual(parseConfig({}, undefined, page), {
    site: 'default',
    slug: '/2019/05/15/iclr-2019/',
    title: 'ICLR 2019',
    url: 'https://blog.example/2019/05/15/iclr-2019/?utm=x',
    lang: 'de',
    theme: 'auto',
    sort: 'oldest',
    strings: {},
  });
});

test('data-* attributes win over the page', () => {
  const cfg = parseConfig(
    { site: 'blog', slug: '/p/', title: 'T', lang: 'zh-CN', theme: 'dark', sort: 'newest' },
    {},
    page,
  );
  assert.equal(cfg.site, 'blog');
  assert.equal(cfg.slug, '/p/');
  assert.equal(cfg.title, 'T');
  assert.equal(cfg.lang, 'zh');
  assert.equal(cfg.theme, 'dark');
  assert.equal(cfg.sort, 'newest');
});

test('render() options win over data-* attributes', () => {
  const cfg = parseConfig(
    { site: 'blog', slug: '/a/', theme: 'dark' },
    { slug: '/b/', theme: 'light', lang: 'es' },
    page,
  );
  assert.equal(cfg.site, 'blog');
  assert.equal(cfg.slug, '/b/');
  assert.equal(cfg.theme, 'light');
  assert.equal(cfg.lang, 'es');
});

test('bad values fall back to the defaults', () => {
  const cfg = parseConfig(
    { theme: 'purple', sort: 'random', site: '', lang: 'xx' },
    {},
    { ...page, htmlLang: '', navLangs: [] },
  );
  assert.equal(cfg.theme, 'auto');
  assert.equal(cfg.sort, 'oldest');
  assert.equal(cfg.site, 'default');
  assert.equal(cfg.lang, 'en');
});

test('language: data-lang, then <html lang>, then the browser, then English', () => {
  assert.equal(parseConfig({}, {}, { ...page, htmlLang: '' }).lang, 'fr');
  assert.equal(parseConfig({}, {}, { ...page, htmlLang: 'it', navLangs: ['pt', 'es-MX'] }).lang, 'es');
  assert.equal(parseConfig({ lang: 'it' }, {}, page).lang, 'de');
});

test('strings from data-strings JSON and render() options merge, options last', () => {
  const cfg = parseConfig({ strings: '{"reply":"Answer","edit":"Change"}' }, { strings: { edit: 'Fix' } }, page);
  assert.deepEqual(cfg.strings, { reply: 'Answer', edit: 'Fix' });
  assert.deepEqual(parseConfig({ strings: '{oops' }, {}, page).strings, {});
  assert.equal(parseJSONObject('[1]'), null);
  assert.equal(parseJSONObject('"x"'), null);
  assert.deepEqual(parseJSONObject('{"a":1}'), { a: 1 });
});

test('the API base is the folder the script was loaded from', () => {
  assert.equal(apiBase('https://comments.example.com/embed.js'), 'https://comments.example.com/');
  assert.equal(apiBase('https://example.com/afterword/embed.js?v=3'), 'https://example.com/afterword/');
  assert.equal(apiBase('http://127.0.0.1:8080/count.js'), 'http://127.0.0.1:8080/');
});
