DROP INDEX comments_top_idx;
ALTER TABLE comments DROP COLUMN score;
