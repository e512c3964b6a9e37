-- Messages that reached the DLQ consumer's own dead-letter queue (the parking queue): archived
-- raw to R2 under _parking/ and listed here so ops can see and replay them.
CREATE TABLE parked_messages (
  message_id   TEXT    NOT NULL PRIMARY KEY,
  queue        TEXT    NOT NULL,
  archive_key  TEXT    NOT NULL,
  bytes        INTEGER NOT NULL,
  attempts     INTEGER NOT NULL,
  parked_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX parked_messages_by_time ON parked_messages (parked_at);
