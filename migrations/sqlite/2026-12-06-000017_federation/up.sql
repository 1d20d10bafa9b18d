-- Replies from elsewhere (docs/replies-from-elsewhere.md).

-- The post elsewhere that announced a thread (a Mastodon status, a Bluesky post), and the
-- poller's state for it. A poller claims a due row with a lease, so two instances never
-- poll one post at once.
CREATE TABLE remote_posts (
    thread_id BIGINT PRIMARY KEY REFERENCES threads (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('mastodon', 'bluesky')),
    -- As the moderator gave it.
    url TEXT NOT NULL,
    -- Mastodon: the instance's base URL and the status id; Bluesky: the post's AT URI
    -- (its DID once resolved).
    api_base TEXT NOT NULL,
    remote_id TEXT NOT NULL,
    linked_at BIGINT NOT NULL,
    next_poll_at BIGINT NOT NULL,
    polled_at BIGINT,
    failures BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    -- Favourites/likes and boosts/reposts of the announcement itself.
    likes BIGINT NOT NULL DEFAULT 0,
    reposts BIGINT NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until BIGINT
);
CREATE INDEX remote_posts_due_idx ON remote_posts (next_poll_at);

-- Where a comment came from when it was not written here (JSON: kind, label, handle,
-- profile and original links), and the remote account first-time moderation and bans
-- are keyed on (e.g. mastodon:ann@example.social, bluesky:did:plc:..., web:example.org).
ALTER TABLE comments ADD COLUMN origin TEXT;
ALTER TABLE comments ADD COLUMN remote_account TEXT;
CREATE INDEX comments_remote_account_idx ON comments (remote_account);

-- Bans of remote accounts and of whole instances or domains.
CREATE TABLE remote_bans (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('account', 'domain')),
    -- account: as in comments.remote_account; domain: a host name in lower case.
    value TEXT NOT NULL,
    -- NULL: every site.
    site TEXT,
    action TEXT NOT NULL CHECK (action IN ('refuse', 'hold')),
    reason TEXT,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX remote_bans_unique_idx ON remote_bans (kind, value, COALESCE(site, ''));

-- Webmentions received: verified later, by the background worker.
CREATE TABLE webmentions (
    id INTEGER PRIMARY KEY,
    site TEXT NOT NULL,
    source TEXT NOT NULL,
    target TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'accepted', 'rejected')),
    -- reply, like, repost, bookmark or mention, once verified.
    kind TEXT,
    thread_id BIGINT REFERENCES threads (id) ON DELETE CASCADE,
    comment_id BIGINT REFERENCES comments (id) ON DELETE SET NULL,
    author_name TEXT,
    author_url TEXT,
    received_at BIGINT NOT NULL,
    verified_at BIGINT,
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_error TEXT,
    claimed_by TEXT,
    lease_until BIGINT,
    UNIQUE (source, target)
);
CREATE INDEX webmentions_due_idx ON webmentions (status, next_attempt_at);
CREATE INDEX webmentions_thread_idx ON webmentions (thread_id, kind);
