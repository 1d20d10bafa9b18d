// Counts for index pages: every [data-afterword-count="SLUG"] element gets
// its text replaced by the thread's comment count, every
// [data-afterword-reactions="SLUG"] by the reactions on the post; one request
// per site for both.
import { request } from './api.js';

const MAX_SLUGS = 1000;
const C = 'data-afterword-count';
const R = 'data-afterword-reactions';
const slugOf = (el) => el.getAttribute(R) || el.getAttribute(C);

// elements → {site: [elements]}; data-afterword-site, else the script's site.
export function groupBySite(elements, defaultSite) {
  const out = {};
  for (const el of elements) {
    if (!slugOf(el)) continue;
    const site = el.getAttribute('data-afterword-site') || defaultSite || 'default';
    (out[site] ||= []).push(el);
  }
  return out;
}

// The requests for one site: a plain GET while the URL stays short, POST
// past that (one preflight, cached), at most MAX_SLUGS slugs each.
// `reactions`: ask for the posts' reaction totals too.
export function countRequests(base, site, slugs, reactions) {
  const out = [];
  for (let i = 0; i < slugs.length; i += MAX_SLUGS) {
    const chunk = slugs.slice(i, i + MAX_SLUGS);
    const query = { site, slug: chunk };
    const body = { site, slugs: chunk };
    if (reactions) query.reactions = body.reactions = true;
    const url = new URL('api/v1/counts?' + new URLSearchParams([['site', site], ...chunk.map((s) => ['slug', s])]), base);
    out.push(url.href.length < 2000 ? ['GET', { query }] : ['POST', { body }]);
  }
  return out;
}

export function loadCounts(base, doc, defaultSite) {
  const groups = groupBySite(doc.querySelectorAll(`[${C}],[${R}]`), defaultSite);
  return Promise.all(
    Object.entries(groups).map(async ([site, els]) => {
      const counts = {};
      const rx = {};
      const reactions = els.some((el) => el.getAttribute(R));
      for (const [method, opts] of countRequests(base, site, [...new Set(els.map(slugOf))], reactions)) {
        const res = await request(base, method, 'counts', opts);
        if (!res.ok || !res.data) return;
        Object.assign(counts, res.data.counts);
        Object.assign(rx, res.data.reactions);
      }
      for (const el of els) el.textContent = String(+(el.getAttribute(R) ? rx : counts)[slugOf(el)] || 0);
    }),
  );
}
