-- The source ids of imported comments that a moderator purged or a privacy request
-- erased: importing the same file again does not bring them back.
CREATE TABLE import_tombstones (
    site TEXT NOT NULL,
    source_key TEXT NOT NULL,
    removed_at BIGINT NOT NULL,
    PRIMARY KEY (site, source_key)
);
