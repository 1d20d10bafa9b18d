DROP TABLE used_tokens;
DROP INDEX outbox_due_idx;
DROP TABLE outbox;
