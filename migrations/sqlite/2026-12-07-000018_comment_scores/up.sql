-- A comment's score (the sum of its reaction counters), kept in the same transaction as
-- the counters, so that `sort=top` pages through an index instead of loading and sorting
-- every top-level comment of the thread.
ALTER TABLE comments ADD COLUMN score BIGINT NOT NULL DEFAULT 0;
UPDATE comments SET score = (
        SELECT SUM(r.count) FROM reaction_counts r
        WHERE r.thread_id = comments.thread_id AND r.comment_key = comments.id)
    WHERE id IN (SELECT comment_key FROM reaction_counts WHERE comment_key != 0);
-- Top-level comments in `sort=top` order: score first, then oldest first.
CREATE INDEX comments_top_idx ON comments (thread_id, score DESC, id) WHERE root_id IS NULL;
