-- Commenters who asked to be mailed about replies, per site and address (double
-- opt-in: nothing but the confirmation mail goes out until confirmed_at is set). Which
-- comments they follow is comments.notify_replies. Erasing an address is one DELETE by
-- email (see MailStore::forget_email).
CREATE TABLE subscribers (
    id BIGSERIAL PRIMARY KEY,
    site TEXT NOT NULL,
    -- Lower case, as comments.email_key.
    email TEXT NOT NULL,
    -- The language of their mail: en, de, fr, es or zh.
    lang TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    confirmed_at BIGINT,
    -- When the last confirmation mail was queued: sent again at most every few hours.
    confirm_sent_at BIGINT,
    -- Random; the unsubscribe links carry it. It can only unsubscribe.
    unsubscribe_key TEXT NOT NULL UNIQUE,
    UNIQUE (site, email)
);
CREATE INDEX subscribers_email_idx ON subscribers (email);

-- Whole threads a subscriber follows (every approved comment, not only replies to theirs).
CREATE TABLE thread_subscriptions (
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    thread_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (subscriber_id, thread_id)
);
CREATE INDEX thread_subscriptions_thread_idx ON thread_subscriptions (thread_id);

-- Approved replies waiting to go out as one mail per subscriber and thread, so several
-- quick replies make one message. Written in the approval's transaction; the mail worker
-- turns a row due since first_at into an outbox message and deletes it in one transaction.
CREATE TABLE reply_digests (
    id BIGSERIAL PRIMARY KEY,
    subscriber_id BIGINT NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    thread_id BIGINT NOT NULL,
    first_at BIGINT NOT NULL,
    -- The replies' ids, comma-separated, in the order they were approved.
    comment_ids TEXT NOT NULL,
    UNIQUE (subscriber_id, thread_id)
);
CREATE INDEX reply_digests_due_idx ON reply_digests (first_at);
