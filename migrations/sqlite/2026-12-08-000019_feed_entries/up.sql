-- The feeds' own record, kept by the event dispatcher (a consumer of `events`, as mail and
-- webhooks are): one row per comment that ever reached a feed, with when it arrived (held
-- or published: the moderators' feed) and when it was first published (the public feeds).
-- A comment approved days after it was written is new in the public feeds on the day it
-- is approved. What an entry shows (text, author, status) is read from the comment itself,
-- so an edit, a deletion or an erasure shows at once; the row goes with its comment.
CREATE TABLE feed_entries (
    comment_id BIGINT PRIMARY KEY NOT NULL REFERENCES comments (id) ON DELETE CASCADE,
    site TEXT NOT NULL,
    thread_id BIGINT NOT NULL,
    arrived_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX feed_entries_site_idx ON feed_entries (site, published_at DESC, comment_id DESC)
    WHERE published_at IS NOT NULL;
CREATE INDEX feed_entries_thread_idx ON feed_entries (thread_id, published_at DESC, comment_id DESC)
    WHERE published_at IS NOT NULL;
CREATE INDEX feed_entries_arrived_idx ON feed_entries (site, arrived_at DESC, comment_id DESC);
-- The comments already there: published when they were written (there is no record of a
-- later approval to go by), held ones arrived then.
INSERT INTO feed_entries (comment_id, site, thread_id, arrived_at, published_at)
    SELECT c.id, t.site, c.thread_id, c.created_at,
           CASE WHEN c.status = 'approved' THEN c.created_at END
    FROM comments c JOIN threads t ON t.id = c.thread_id
    WHERE c.status IN ('approved', 'pending');
