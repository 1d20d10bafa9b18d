-- A comment's score (the sum of its reaction counters), kept in the same transaction as
-- the counters, so that `sort=top` pages through an index instead of loading and sorting
-- every top-level comment of the thread.
ALTER TABLE comments ADD COLUMN score BIGINT NOT NULL DEFAULT 0;
UPDATE comments SET score = s.total
    FROM (SELECT thread_id, comment_key, SUM(count) AS total FROM reaction_counts
          WHERE comment_key <> 0 GROUP BY thread_id, comment_key) s
    WHERE comments.id = s.comment_key AND comments.thread_id = s.thread_id;
-- Top-level comments in `sort=top` order: score first, then oldest first.
CREATE INDEX comments_top_idx ON comments (thread_id, score DESC, id) WHERE root_id IS NULL;
