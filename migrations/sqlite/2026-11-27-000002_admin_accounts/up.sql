-- Moderators who log in at /admin.
CREATE TABLE admins (
    id INTEGER PRIMARY KEY,
    -- Lower case, compared exactly.
    username TEXT NOT NULL UNIQUE,
    -- Shown on the moderator's comments; anonymous authors may not take it.
    display_name TEXT NOT NULL,
    -- argon2id, PHC string format.
    password_hash TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    password_changed_at BIGINT NOT NULL
);

-- Only a keyed hash of each session token is stored.
CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY NOT NULL,
    admin_id BIGINT NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);
CREATE INDEX admin_sessions_admin_idx ON admin_sessions (admin_id);
