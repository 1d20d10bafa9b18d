// Relative and exact times, localized by Intl (no strings of our own).

const UNITS = [
  ['year', 31536000],
  ['month', 2592000],
  ['week', 604800],
  ['day', 86400],
  ['hour', 3600],
  ['minute', 60],
];

// "5 minutes ago", "yesterday", "now". A time in the future (clock skew) is "now".
export function relativeTime(date, now, lang) {
  const rtf = new Intl.RelativeTimeFormat(lang, { numeric: 'auto' });
  const secs = Math.max(0, (now - date) / 1000);
  for (const [unit, size] of UNITS) {
    if (secs >= size) return rtf.format(-Math.floor(secs / size), unit);
  }
  return rtf.format(0, 'second');
}

export function exactTime(date, lang) {
  return date.toLocaleString(lang, { dateStyle: 'long', timeStyle: 'short' });
}

// A duration for "14 minutes left": minutes (rounded up) from one minute on,
// seconds below that.
export function duration(ms, lang) {
  const secs = Math.max(0, Math.ceil(ms / 1000));
  const [unit, value] = secs >= 60 ? ['minute', Math.ceil(secs / 60)] : ['second', secs];
  return value.toLocaleString(lang, { style: 'unit', unit, unitDisplay: 'long' });
}
