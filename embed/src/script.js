// Finding our own <script> element: document.currentScript while the bundle's
// top level runs (async scripts included), else the last script whose src
// ends in /NAME.
export function ownScript(doc, name) {
  const cur = doc.currentScript;
  if (cur?.src) return cur;
  return [...doc.querySelectorAll('script[src]')].reverse().find((s) => s.src.split(/[?#]/)[0].endsWith('/' + name));
}

export function onReady(doc, fn) {
  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', fn);
  else fn();
}

// The API lives where the script came from: "https://c.example.com/x/embed.js"
// → "https://c.example.com/x/".
export const apiBase = (src) => new URL('.', src).href;
