// elsewhere.js: the chunk embed-elsewhere.js, loaded by the section (`need` in thread.js)
// only for a page with comments from elsewhere or an announcement (api.md, "Comments from
// elsewhere"): each such comment's handle and origin mark ("via mastodon.social", linking
// to the original), and under the thread "Reply on Mastodon" (or Bluesky) with the likes
// and reposts there, and the counts of webmentions. Links only: nothing here makes the
// browser load anything from another host (the avatar stays the local identicon).
import { safeHttpUrl } from './dom.js';
import { FAR_KEYS, FAR_RAW, parse, translator } from './i18n.js';
import { compact } from './reactions.js';

const REL = 'nofollow ugc noopener';
const NAMES = { mastodon: 'Mastodon', bluesky: 'Bluesky' };

// This chunk's strings (i18n.js), overridable by name as the section's are; one
// translator per section (each has its language).
const say = (x, key, vars) => (x.farT ||= translator(parse(FAR_RAW, FAR_KEYS), x.cfg.lang, x.cfg.strings))(key, vars);

// For a comment's meta line, after its author (whose link, `website`, is the profile).
function mark(x, c) {
  const o = c.origin;
  const href = safeHttpUrl(o.url);
  return [
    o.handle && x.h('span', 'aw-handle', String(o.handle)),
    x.h(
      href ? 'a' : 'span',
      { class: 'aw-origin', href, rel: href && REL, 'data-kind': o.kind },
      say(x, 'via', { label: o.label || o.kind }),
    ),
  ];
}

// "3 likes", "2 reposts": the kinds counted above zero (none: an empty list).
const counts = (x, of, kinds) =>
  kinds.flatMap((k, i) => (of[i] > 0 ? [x.h('span', 'aw-count', say(x, k, { n: compact(of[i], x.cfg.lang) }))] : []));

// Under the thread: where to answer elsewhere, and what happened there.
function foot(x) {
  const { announcement: a, webmentions: w = {} } = x.thread().elsewhere || {};
  const href = safeHttpUrl(a?.url);
  const mentions = counts(x, [w.like, w.repost, w.bookmark, w.mention], ['like', 'repost', 'bookmark', 'mention']);
  return x.h(
    'div',
    'aw-elsewhere',
    href &&
      x.h(
        'p',
        'aw-actions aw-announcement',
        x.h('a', { class: 'aw-btn aw-reply-elsewhere', href, rel: 'noopener' }, say(x, 'replyOn', { label: NAMES[a.kind] || a.kind })),
        counts(x, [a.likes, a.reposts], ['like', 'repost']),
      ),
    mentions[0] && x.h('p', 'aw-actions aw-webmentions', say(x, 'webmentions'), mentions),
  );
}

(window.Afterword ||= {}).elsewhere = { mark, foot };
