import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildThread } from '../../src/tree.js';

const c = (id, parent_id = null, author = 'u' + id) => ({ id, parent_id, author });
// Shape as [id, replyTo id or undefined, [replies]]
const shape = (nodes) => nodes.map((n) => [n.comment.id, n.replyTo ? n.replyTo.id : undefined, shape(n.replies)]);

test('replies nest under their parents, ordered by id; top level keeps the given order', () => {
  const nodes = buildThread([c(5), c(9, 5), c(7, 5), c(2), c(3, 2)]);
  assert.deepEqual(shape(nodes), [
    [
      5,
      undefined,
      [
        [7, undefined, []],
        [9, undefined, []],
      ],
    ],
    [2, undefined, [[3, undefined, []]]],
  ]);
});

test('depth is capped at 3: deeper replies sit flat after their parent, saying whom they answer', () => {
  // 1 ← 2 ← 3 ← 4 ← 5 ← 6, and 7 answers 3
  const list = [c(1), c(2, 1), c(3, 2), c(4, 3), c(5, 4), c(6, 5), c(7, 3), c(8, 4)];
  const nodes = buildThread(list);
  const depth3 = nodes[0].replies[0].replies[0].replies; // the replies of 3
  assert.deepEqual(
    depth3.map((n) => [n.comment.id, n.depth, n.replyTo && n.replyTo.id]),
    [
      [4, 3, null],
      [5, 3, 4],
      [6, 3, 5],
      [8, 3, 4],
      [7, 3, null],
    ],
  );
  for (const n of depth3) assert.deepEqual(n.replies, []);
});

test('the cap is a parameter', () => {
  const nodes = buildThread([c(1), c(2, 1), c(3, 2)], 1);
  assert.deepEqual(shape(nodes), [
    [
      1,
      undefined,
      [
        [2, undefined, []],
        [3, 2, []],
      ],
    ],
  ]);
});

test('a reply whose parent is not on the page is shown at the top level', () => {
  assert.deepEqual(shape(buildThread([c(4, 99), c(5)])), [
    [4, undefined, []],
    [5, undefined, []],
  ]);
});

test('a comment naming itself as parent does not loop', () => {
  assert.deepEqual(shape(buildThread([c(4, 4)])), [[4, undefined, []]]);
});
