-- Mail waiting to go out, written in the same transaction as the event that causes it
-- (see src/email/). A worker claims due rows with a lease, so several instances sharing
-- one database never send a row twice, and a crashed instance's claims come back.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    created_at BIGINT NOT NULL,
    -- What it is (e.g. moderator-new-comment), for the logs and the admin view.
    kind TEXT NOT NULL,
    -- The envelope: sender and the one recipient.
    sender TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- The whole RFC 5322 message, headers included, as it will be sent.
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- The SMTP server's last answer (or why there was none).
    last_answer TEXT,
    claimed_by TEXT,
    lease_until BIGINT,
    sent_at BIGINT
);
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);

-- The nonces of mailed action links that have been used: each works once.
CREATE TABLE used_tokens (
    nonce TEXT PRIMARY KEY,
    used_at BIGINT NOT NULL
);
