-- The seed design's D1 schema (bench/seed.ts), frozen: the tables and indexes migrations/0001
-- through 0010 left, the schema the seed's cost was first measured on. The seed's side of the
-- cost ratio must not move when our D1 migrations do, so it is kept here, not read from
-- migrations/. Applied to SEED_DB by bench/setup.ts (bench/vitest.config.ts reads this folder).

CREATE TABLE failures (
  tenant_id        TEXT    NOT NULL,
  job_id           TEXT    NOT NULL,
  user_id          TEXT,
  queue            TEXT    NOT NULL,
  class            TEXT    NOT NULL CHECK (class IN ('RECOVERABLE', 'USER_ERROR', 'SYSTEM_ERROR', 'UNKNOWN')),
  reason           TEXT    NOT NULL,
  status           TEXT    NOT NULL,
  attempts         INTEGER NOT NULL,
  occurrences      INTEGER NOT NULL,
  group_fp         TEXT    NOT NULL,
  error_name       TEXT,
  error_message    TEXT,
  error_status     INTEGER,
  error_code       TEXT,
  first_failed_at  INTEGER NOT NULL,
  last_failed_at   INTEGER NOT NULL,
  -- where the full envelope is archived in R2 (segment key, byte offset and length)
  archive_key      TEXT,
  archive_offset   INTEGER,
  archive_length   INTEGER,
  updated_at       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, job_id)
) WITHOUT ROWID;
CREATE INDEX failures_by_status ON failures (tenant_id, status, last_failed_at);
CREATE INDEX failures_by_user   ON failures (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE TABLE failure_groups (
  tenant_id       TEXT    NOT NULL,
  fingerprint     TEXT    NOT NULL,
  queue           TEXT    NOT NULL,
  class           TEXT    NOT NULL,
  error_name      TEXT    NOT NULL,
  message_sample  TEXT    NOT NULL,
  sample_job_id   TEXT    NOT NULL,
  count           INTEGER NOT NULL,
  first_seen      INTEGER NOT NULL,
  last_seen       INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, fingerprint)
) WITHOUT ROWID;
CREATE INDEX failure_groups_by_time ON failure_groups (tenant_id, last_seen);
CREATE TABLE dlq_recovery_queue (
  tenant_id    TEXT    NOT NULL,
  job_id       TEXT    NOT NULL,
  queue        TEXT    NOT NULL,
  class        TEXT    NOT NULL,
  status       TEXT    NOT NULL,
  reason       TEXT    NOT NULL,
  enqueued_at  INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, job_id)
) WITHOUT ROWID;
CREATE INDEX dlq_recovery_queue_by_status ON dlq_recovery_queue (status, enqueued_at);
CREATE TABLE user_notifications (
  tenant_id   TEXT    NOT NULL,
  id          TEXT    NOT NULL,
  user_id     TEXT    NOT NULL,
  kind        TEXT    NOT NULL,
  job_id      TEXT,
  title       TEXT    NOT NULL,
  body        TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  read_at     INTEGER,
  PRIMARY KEY (tenant_id, id)
) WITHOUT ROWID;
CREATE INDEX user_notifications_by_user ON user_notifications (tenant_id, user_id, created_at);
CREATE INDEX user_notifications_unread  ON user_notifications (tenant_id, user_id) WHERE read_at IS NULL;
CREATE TABLE parked_messages (
  message_id   TEXT    NOT NULL PRIMARY KEY,
  queue        TEXT    NOT NULL,
  archive_key  TEXT    NOT NULL,
  bytes        INTEGER NOT NULL,
  attempts     INTEGER NOT NULL,
  parked_at    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX parked_messages_by_time ON parked_messages (parked_at);
CREATE TABLE api_tokens (
  id          TEXT    NOT NULL PRIMARY KEY,  -- public handle, "tok_" + 16 hex digits
  tenant_id   TEXT    NOT NULL,
  label       TEXT    NOT NULL,              -- who holds it; recorded as the actor in the audit trail
  token_hash  TEXT    NOT NULL UNIQUE,       -- lower-case hex SHA-256 of the whole token
  created_at  INTEGER NOT NULL,
  created_by  TEXT    NOT NULL,
  revoked_at  INTEGER,
  scope       TEXT    NOT NULL DEFAULT 'operate' CHECK (scope IN ('read', 'operate'))
) WITHOUT ROWID;
CREATE INDEX api_tokens_by_tenant ON api_tokens (tenant_id, created_at);
CREATE TABLE tenant_shards (
  tenant_id   TEXT PRIMARY KEY,
  shard       TEXT NOT NULL,
  assigned_at INTEGER NOT NULL
) WITHOUT ROWID;
