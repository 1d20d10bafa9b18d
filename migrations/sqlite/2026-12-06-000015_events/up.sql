-- What happened, one row per change (a comment created, approved, edited, deleted, filed
-- as spam; a reaction added), written in the same transaction as the change. Consumers
-- (reply mail, webhooks) take pending rows in a transaction of their own and mark them
-- dispatched in it, so each event is handled once, whichever instance takes it.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    -- comment.created, comment.approved, comment.edited, comment.deleted, comment.spam,
    -- reaction.added.
    kind TEXT NOT NULL,
    site TEXT NOT NULL,
    thread_id BIGINT,
    comment_id BIGINT,
    -- A small JSON object: the status before, the new status, the reaction.
    detail TEXT NOT NULL DEFAULT '{}',
    dispatched_at BIGINT
);
CREATE INDEX events_pending_idx ON events (id) WHERE dispatched_at IS NULL;

-- One row per event and webhook endpoint: its body as it is sent, and the same lease
-- and retry columns as the mail outbox.
CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY,
    -- NULL for a test event sent from the admin page.
    event_id BIGINT,
    -- The Standard Webhooks webhook-id: the same on every attempt.
    message_id TEXT NOT NULL,
    site TEXT NOT NULL,
    -- The endpoint's url as configured: deliveries are claimed per endpoint.
    endpoint TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    body TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    -- The receiver's last answer (status and its first bytes), or why there was none.
    last_answer TEXT,
    claimed_by TEXT,
    lease_until BIGINT,
    delivered_at BIGINT
);
CREATE UNIQUE INDEX webhook_deliveries_once_idx ON webhook_deliveries (event_id, site, endpoint);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint, status, next_attempt_at);
