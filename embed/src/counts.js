// Comment counts for index pages: every [data-afterword-count="SLUG"] element
// gets its text replaced by the bare number, one request per site.
import { request } from './api.js';

const MAX_SLUGS = 1000;

// elements → {site: [elements]}; data-afterword-site, else the script's site.
export function groupBySite(elements, defaultSite) {
  const out = {};
  for (const el of elements) {
    if (!el.getAttribute('data-afterword-count')) continue;
    const site = el.getAttribute('data-afterword-site') || defaultSite || 'default';
    (out[site] = out[site] || []).push(el);
  }
  return out;
}

// The requests for one site: a plain GET while the URL stays short, POST
// past that (one preflight, cached), at most MAX_SLUGS slugs each.
export function countRequests(base, site, slugs) {
  const out = [];
  for (let i = 0; i < slugs.length; i += MAX_SLUGS) {
    const chunk = slugs.slice(i, i + MAX_SLUGS);
    const query = { site, slug: chunk };
    const url = new URL(
      'api/v1/counts?' + new URLSearchParams([['site', site], ...chunk.map((s) => ['slug', s])]),
      base,
    );
    out.push(url.href.length < 2000 ? ['GET', { query }] : ['POST', { body: { site, slugs: chunk } }]);
  }
  return out;
}

export function loadCounts(base, doc, defaultSite) {
  const groups = groupBySite(doc.querySelectorAll('[data-afterword-count]'), defaultSite);
  return Promise.all(
    Object.entries(groups).map(async ([site, els]) => {
      const slugs = [...new Set(els.map((el) => el.getAttribute('data-afterword-count')))];
      const counts = {};
      for (const [method, opts] of countRequests(base, site, slugs)) {
        const res = await request(base, method, 'counts', opts);
        if (!res.ok || !res.data) return;
        Object.assign(counts, res.data.counts);
      }
      for (const el of els) el.textContent = String(+counts[el.getAttribute('data-afterword-count')] || 0);
    }),
  );
}
