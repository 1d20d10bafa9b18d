// h(tag, props, ...children): builds DOM through safe APIs only. Props go
// through setAttribute (on* props become addEventListener); a string is the
// class. Children that are strings become text nodes; null, undefined, ''
// and false are skipped.
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (typeof props === 'string') props = { class: props };
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  el.append(...kids.flat(9).filter((k) => k || k === 0));
  return el;
}

// Only http(s) links ever become an href; anything else (javascript:, data:,
// relative junk) is shown as plain text.
export function safeHttpUrl(value) {
  // A non-string or empty value throws in the parser, as any other non-URL does.
  try {
    const u = new URL(value);
    return /^https?:$/.test(u.protocol) ? u.href : null;
  } catch {
    return null;
  }
}
