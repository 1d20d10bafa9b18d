-- Reaction counts per target, kept by every toggle in the same transaction, so reading
-- counts never scans reactions. comment_key is the comment's id, or 0 for the post itself
-- (a key column cannot be NULL).
CREATE TABLE reaction_counts (
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    comment_key BIGINT NOT NULL,
    kind TEXT NOT NULL,
    count BIGINT NOT NULL CHECK (count > 0),
    PRIMARY KEY (thread_id, comment_key, kind)
);
INSERT INTO reaction_counts (thread_id, comment_key, kind, count)
    SELECT thread_id, COALESCE(comment_id, 0), kind, COUNT(*)
    FROM reactions
    GROUP BY thread_id, COALESCE(comment_id, 0), kind;

-- A visitor's own reactions in a thread ("mine") without reading the thread's others.
CREATE INDEX reactions_visitor_idx ON reactions (visitor_hash, thread_id);
