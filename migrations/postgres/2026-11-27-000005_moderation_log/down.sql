DROP INDEX comments_status_idx;
ALTER TABLE comments DROP COLUMN deleted_by;
DROP TABLE bans;
DROP TABLE audit_log;
