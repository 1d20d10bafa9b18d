// Identicons drawn locally from the comment's avatar seed: a 5×5 grid,
// mirrored left to right, in one hue. Never a request to anyone.

// FNV-1a, 32 bits, over UTF-16 code units; `salt` gives a second stream.
function fnv(str, salt) {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < str.length; i++) h = Math.imul(h ^ str.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// seed → {hue: 0..359, cells: 25 booleans, row-major, left-right symmetric}
export function avatarShape(seed) {
  const s = String(seed ?? '');
  const bits = fnv(s, 0);
  const cells = [];
  for (let i = 0; i < 25; i++) {
    const x = i % 5;
    cells.push(((bits >>> (((i / 5) | 0) * 3 + (x < 3 ? x : 4 - x))) & 1) === 1);
  }
  if (!cells.includes(true)) cells[12] = true;
  return { hue: fnv(s, 0x5bd1e995) % 360, cells };
}

// The SVG path of the filled cells, in a 5×5 user space.
export const avatarPath = (cells) => cells.map((on, i) => (on ? `M${i % 5} ${(i / 5) | 0}h1v1h-1z` : '')).join('');

const NS = 'http://www.w3.org/2000/svg';

export function drawAvatar(doc, seed) {
  const { hue, cells } = avatarShape(seed);
  const svg = doc.createElementNS(NS, 'svg');
  const path = doc.createElementNS(NS, 'path');
  svg.setAttribute('class', 'aw-avatar');
  svg.setAttribute('viewBox', '-1 -1 7 7');
  svg.setAttribute('aria-hidden', 'true');
  path.setAttribute('d', avatarPath(cells));
  path.setAttribute('fill', `hsl(${hue},55%,42%)`);
  svg.append(path);
  return svg;
}
