-- The email address as compared (lower case): first-time moderation looks up whether an
-- address already has an approved comment, whatever case the commenter typed it in.
-- Filled by the server on insert (Unicode lower case); existing rows are backfilled here
-- (SQLite's LOWER folds only ASCII: older non-ASCII addresses may miss a match).
ALTER TABLE comments ADD COLUMN email_key TEXT;
UPDATE comments SET email_key = LOWER(email) WHERE email IS NOT NULL;
CREATE INDEX comments_email_key_idx ON comments (email_key, status);

-- The moderator account that wrote this comment (from the admin page), NULL for
-- everyone else. No foreign key: deleting an account keeps its comments.
ALTER TABLE comments ADD COLUMN moderator_id BIGINT;
