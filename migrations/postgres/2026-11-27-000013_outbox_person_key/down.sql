DROP INDEX outbox_person_key_idx;
ALTER TABLE outbox DROP COLUMN person_key;
