DROP TABLE change_epoch;
DROP INDEX comments_source_idx;
ALTER TABLE comments DROP COLUMN source_key;
