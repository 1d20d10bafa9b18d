// Thread shape: the API gives a flat page (each top-level comment followed by
// its replies); we nest replies up to MAX_DEPTH levels of indentation and show
// deeper ones flat at the last level, each saying whom it answers.

export const MAX_DEPTH = 3;

// → [{comment, depth, replyTo, replies: [node]}]; replyTo is the parent's
// comment for flattened nodes, null otherwise. Top-level order is kept as
// given; replies are ordered by id. A reply whose parent is missing is shown
// as a top-level comment rather than lost.
export function buildThread(comments, maxDepth = MAX_DEPTH) {
  const byId = {};
  for (const c of comments) byId[c.id] = { comment: c, kids: [] };
  const roots = [];
  for (const c of comments) {
    const parent = c.parent_id !== c.id && byId[c.parent_id];
    (parent ? parent.kids : roots).push(byId[c.id]);
  }
  const byIdOrder = (a, b) => a.comment.id - b.comment.id;

  function place(entry, depth, replyTo, out) {
    const node = { comment: entry.comment, depth, replyTo, replies: [] };
    out.push(node);
    const kids = entry.kids.sort(byIdOrder);
    for (const kid of kids) {
      if (depth < maxDepth) place(kid, depth + 1, null, node.replies);
      // Too deep: a sibling right after its parent, saying whom it answers.
      else place(kid, depth, entry.comment, out);
    }
  }
  const out = [];
  for (const r of roots) place(r, 0, null, out);
  return out;
}
