// Configuration: the script tag's data-* attributes, then render() options,
// then defaults taken from the page.
import { pickLang } from './i18n.js';

const THEMES = ['light', 'dark', 'auto'];
export const SORTS = ['oldest', 'newest', 'top'];

// JSON object from an attribute, or null when absent or malformed.
export function parseJSONObject(text) {
  if (!text) return null;
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
  } catch {
    return null;
  }
}

// data: the script's dataset (plain object of strings); options: render()'s;
// page: {pathname, href, title, htmlLang, navLangs}.
export function parseConfig(data, options, page) {
  const o = { ...options };
  const pick = (k) => {
    const v = o[k] ?? data[k];
    return v == null || v === '' ? null : String(v);
  };
  const theme = pick('theme');
  const sort = pick('sort');
  return {
    site: pick('site') || 'default',
    slug: pick('slug') || page.pathname || '/',
    title: pick('title') ?? page.title ?? '',
    url: pick('url') || (page.href || '').split('#')[0],
    lang: pickLang([pick('lang'), page.htmlLang, ...(page.navLangs || [])]),
    theme: THEMES.includes(theme) ? theme : 'auto',
    sort: SORTS.includes(sort) ? sort : 'oldest',
    strings: { ...parseJSONObject(data.strings), ...o.strings },
  };
}
