CREATE TABLE threads (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    slug TEXT NOT NULL,
    title TEXT,
    url TEXT,
    locked BOOLEAN NOT NULL DEFAULT 0,
    comment_count BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    UNIQUE (site, slug)
);

CREATE TABLE comments (
    id INTEGER PRIMARY KEY,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    parent_id BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    -- The top-level comment this reply hangs under (NULL for top-level comments),
    -- so a page of a thread loads only its own replies.
    root_id BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('approved', 'pending', 'spam', 'deleted')),
    body TEXT NOT NULL,
    html TEXT NOT NULL,
    author TEXT,
    email TEXT,
    website TEXT,
    avatar TEXT NOT NULL,
    notify_replies BOOLEAN NOT NULL DEFAULT 0,
    edit_token_hash TEXT,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    edited_at BIGINT,
    deleted_at BIGINT
);
CREATE INDEX comments_thread_idx ON comments (thread_id, id);
CREATE INDEX comments_parent_idx ON comments (parent_id);
CREATE INDEX comments_root_idx ON comments (thread_id, root_id, id);
CREATE INDEX comments_email_idx ON comments (email);

CREATE TABLE reactions (
    id INTEGER PRIMARY KEY,
    thread_id BIGINT NOT NULL REFERENCES threads (id) ON DELETE CASCADE,
    comment_id BIGINT REFERENCES comments (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    visitor_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX reactions_unique_idx
    ON reactions (thread_id, COALESCE(comment_id, 0), kind, visitor_hash);

CREATE TABLE server_secrets (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);
