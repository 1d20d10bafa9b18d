DROP INDEX reply_digests_due_idx;
DROP TABLE reply_digests;
DROP INDEX subscribers_email_idx;
DROP TABLE subscribers;
