-- Who did what to which comment or thread, when. No foreign keys: an entry outlives the
-- comment it names (deleted for good) and the account that acted (deleted later).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    moderator TEXT NOT NULL,
    action TEXT NOT NULL,
    comment_id BIGINT,
    thread_id BIGINT,
    detail TEXT
);
CREATE INDEX audit_log_comment_idx ON audit_log (comment_id);

-- Future comments from these are refused or held for moderation.
CREATE TABLE bans (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'ip')),
    -- email: the address in lower case; ip: its keyed hash, never the address.
    value TEXT NOT NULL,
    -- NULL: every site.
    site TEXT,
    action TEXT NOT NULL CHECK (action IN ('refuse', 'hold')),
    reason TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);
CREATE UNIQUE INDEX bans_unique_idx ON bans (kind, value, COALESCE(site, ''));

-- Who deleted a comment: its author (it is scrubbed: nothing to restore) or a moderator.
ALTER TABLE comments ADD COLUMN deleted_by TEXT;
UPDATE comments SET deleted_by = 'author' WHERE status = 'deleted';
-- The moderation queue and the status filters page by id within a status.
CREATE INDEX comments_status_idx ON comments (status, id);
