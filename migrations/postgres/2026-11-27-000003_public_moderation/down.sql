ALTER TABLE comments DROP COLUMN moderator_id;
DROP INDEX comments_email_key_idx;
ALTER TABLE comments DROP COLUMN email_key;
