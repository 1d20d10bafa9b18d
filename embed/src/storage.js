// What the embed remembers, in localStorage, each entry with its expiry `e`
// (ms since the epoch) and dropped once past it:
//   afterword:me                → {p: {author, email, website, e}}
//   afterword:tokens:SITE       → {id: {t: edit token, e: end of the edit window, b: Markdown source}}
//   afterword:pending:SITE:SLUG → {id: {t: edit token, e, c: the pending Comment}}
//   afterword:draft:SITE:SLUG   → {parent id or 0: {b: text, e}}
// Storage can be missing, full or forbidden (private modes, sandboxed
// frames): then nothing is remembered, and nothing breaks.

const P = 'afterword:';
export const DAY = 864e5;

// localStorage, or null where reading it throws (blocked storage): a null
// backend makes every read empty and every write a no-op.
export function safeStorage(win) {
  try {
    return win.localStorage;
  } catch {
    return null;
  }
}

export function createStore(backend, now = Date.now) {
  const write = (key, all) => {
    try {
      if (Object.keys(all).length) backend.setItem(P + key, JSON.stringify(all));
      else backend.removeItem(P + key);
    } catch {
      /* full or forbidden */
    }
  };
  // The live entries under `key`; expired ones are purged on the way.
  const get = (key) => {
    let all, dropped;
    try {
      all = JSON.parse(backend.getItem(P + key)) || {};
    } catch {
      all = {};
    }
    for (const id in all) {
      if (!(all[id] && all[id].e > now())) dropped = delete all[id];
    }
    if (dropped) write(key, all);
    return all;
  };
  // Sets (or, with no value, forgets) one entry.
  const set = (key, id, value) => {
    const all = get(key);
    if (value) all[id] = value;
    else delete all[id];
    write(key, all);
  };
  return { get, set, now };
}
