-- Every lookup by address goes through email_key (the lower-cased address, indexed with
-- the status); this index on the address as typed served no query, and each new comment
-- paid for it: an insert at a random place (a whole page written, on SQLite, per comment
-- of a large import).
DROP INDEX comments_email_idx;
