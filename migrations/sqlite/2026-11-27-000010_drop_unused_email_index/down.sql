CREATE INDEX comments_email_idx ON comments (email);
