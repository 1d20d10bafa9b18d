DROP INDEX reply_digests_due_idx;
DROP TABLE reply_digests;
DROP INDEX thread_subscriptions_thread_idx;
DROP TABLE thread_subscriptions;
DROP INDEX subscribers_email_idx;
DROP TABLE subscribers;
