-- The id a comment had in the system it was imported from (e.g. `disqus:123`): a second
-- import of the same file finds it and adds nothing. NULL for comments written here.
ALTER TABLE comments ADD COLUMN source_key TEXT;
CREATE UNIQUE INDEX comments_source_idx ON comments (thread_id, source_key);

-- Moved by every batch another process (`afterword import`) commits: a running server
-- that sees it move drops its cached pages (on SQLite; PostgreSQL instances hear NOTIFY).
CREATE TABLE change_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO change_epoch (id, epoch) VALUES (1, 0);
