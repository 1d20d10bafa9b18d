-- The spam checks' duplicate test looks up a client's latest comments by address hash.
CREATE INDEX comments_ip_idx ON comments (ip, id);
