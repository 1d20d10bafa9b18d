-- A keyed hash of the address a message is to or about (a reader's own mail, or the
-- commenter a moderator's mail is about): bodies are base64, so privacy requests find a
-- person's mail by this key, never by searching the text.
ALTER TABLE outbox ADD COLUMN person_key TEXT;
CREATE INDEX outbox_person_key_idx ON outbox (person_key);
