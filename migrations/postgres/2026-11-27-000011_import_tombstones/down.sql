DROP TABLE import_tombstones;
