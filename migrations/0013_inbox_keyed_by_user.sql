-- A user's inbox is read by tenant and user, newest first (src/sinks/inbox.ts). Keyed that way a
-- notice is one row written; keyed by id with an index by user it was two. A notice's id, user and
-- time are fixed when its ledger creates it, so a retried flush still writes it once.
CREATE TABLE user_notifications_keyed (
  tenant_id   TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  id          TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  job_id      TEXT,
  title       TEXT    NOT NULL,
  body        TEXT    NOT NULL,
  read_at     INTEGER,
  PRIMARY KEY (tenant_id, user_id, created_at, id)
) WITHOUT ROWID;

INSERT INTO user_notifications_keyed (tenant_id, user_id, created_at, id, kind, job_id, title, body, read_at)
  SELECT tenant_id, user_id, created_at, id, kind, job_id, title, body, read_at FROM user_notifications;

DROP TABLE user_notifications;
ALTER TABLE user_notifications_keyed RENAME TO user_notifications;
