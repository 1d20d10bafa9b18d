// Reactions: how counts read, and the reader's visitor id.
import { DAY } from './storage.js';

// 1234 → "1.2K" (in the page's language); 0 → "" (the emoji alone).
export const compact = (n, lang) => (n > 0 ? n.toLocaleString(lang, { notation: 'compact' }) : '');

// The opaque id the server keys this reader's reactions by, created once
// (128 random bits, as digits) and kept for ten years. The server stores only a
// keyed hash of it. `create` false: only an existing one (or undefined).
export function visitorId(store, create) {
  let v = store.get('me').v?.i;
  if (!v && create) {
    v = crypto.getRandomValues(new Uint32Array(4)).join('');
    store.set('me', 'v', { i: v, e: store.now() + 3650 * DAY });
  }
  return v;
}
