// Test data, not product code: the ledger's schema steps v1..v14 exactly as src/ledger/schema.ts
// applied them before the v15 baseline (commit 4cbbf91), with the SQL they imported from the
// ledger's modules written out. Frozen: a ledger built from these is what a ledger written by
// v14 code holds, and test/ledger/schema.test.ts checks that the current code upgrades it to
// what a fresh ledger is. Never edit a step; src/ledger/schema.ts moves on, this does not.

export const V14_MIGRATIONS: readonly (readonly string[])[] = [
  // v1: failures, groups, lifetime counters and the rolling 24 h window
  [
    `CREATE TABLE failures (
       job_id          TEXT PRIMARY KEY,
       user_id         TEXT,
       queue           TEXT NOT NULL,
       class           TEXT NOT NULL,
       reason          TEXT NOT NULL,
       status          TEXT NOT NULL,
       attempts        INTEGER NOT NULL,
       occurrences     INTEGER NOT NULL,
       group_fp        TEXT NOT NULL,
       error           TEXT,
       body            TEXT NOT NULL,
       body_encoding   TEXT NOT NULL,
       first_failed_at INTEGER NOT NULL,
       last_failed_at  INTEGER NOT NULL,
       recent_keys     TEXT NOT NULL
     ) WITHOUT ROWID`,
    `CREATE INDEX failures_recent ON failures (last_failed_at, job_id)`,
    `CREATE TABLE groups (
       fingerprint     TEXT PRIMARY KEY,
       queue           TEXT NOT NULL,
       class           TEXT NOT NULL,
       error_name      TEXT NOT NULL,
       message_sample  TEXT NOT NULL,
       sample_job_id   TEXT NOT NULL,
       count           INTEGER NOT NULL,
       first_seen      INTEGER NOT NULL,
       last_seen       INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE window_buckets (bucket INTEGER PRIMARY KEY, count INTEGER NOT NULL)`,
  ],
  // v2: the table of due work behind the single alarm
  [
    `CREATE TABLE due_work (
       kind   TEXT NOT NULL,
       key    TEXT NOT NULL,
       due_at INTEGER NOT NULL,
       PRIMARY KEY (kind, key)
     ) WITHOUT ROWID`,
    `CREATE INDEX due_work_by_time ON due_work (due_at)`,
  ],
  // v3: the outbox flushed to D1 and R2, and the failures' link to it (rows leave only once flushed)
  [
    `CREATE TABLE ledger_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE outbox (
       id             INTEGER PRIMARY KEY,
       created_at     INTEGER NOT NULL,
       job_ids        TEXT NOT NULL,
       occurrences    TEXT NOT NULL,
       archive_key    TEXT,
       archive_offset INTEGER
     )`,
    `ALTER TABLE failures ADD COLUMN outbox_seq INTEGER NOT NULL DEFAULT 0`,
  ],
  // v4: recovery (retries, circuit breakers, manual and bulk actions with an audit trail)
  [
    `ALTER TABLE failures ADD COLUMN recovery_attempts INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE failures ADD COLUMN retry_in_flight INTEGER`,
    `ALTER TABLE failures ADD COLUMN last_retry_at INTEGER`,
    `ALTER TABLE failures ADD COLUMN poison_streak INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE failures ADD COLUMN recovery_note TEXT`,
    `ALTER TABLE failures ADD COLUMN body_redacted INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE failures ADD COLUMN sealed_body TEXT`,
    `CREATE TABLE actions (
       id           INTEGER PRIMARY KEY,
       job_id       TEXT,
       operation_id TEXT,
       action       TEXT NOT NULL,
       actor        TEXT NOT NULL,
       at           INTEGER NOT NULL,
       detail       TEXT
     )`,
    `CREATE INDEX actions_by_job ON actions (job_id, id)`,
    `CREATE TABLE circuits (
       queue      TEXT PRIMARY KEY,
       state      TEXT NOT NULL,
       failures   TEXT NOT NULL,
       opened_at  INTEGER,
       probe_job  TEXT,
       updated_at INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE operations (
       id            TEXT PRIMARY KEY,
       action        TEXT NOT NULL,
       filter        TEXT NOT NULL,
       rate          INTEGER NOT NULL,
       options       TEXT NOT NULL,
       status        TEXT NOT NULL,
       total         INTEGER NOT NULL,
       next_seq      INTEGER NOT NULL DEFAULT 0,
       done          INTEGER NOT NULL DEFAULT 0,
       failed        INTEGER NOT NULL DEFAULT 0,
       actor         TEXT NOT NULL,
       created_at    INTEGER NOT NULL,
       updated_at    INTEGER NOT NULL,
       finished_at   INTEGER
     ) WITHOUT ROWID`,
    `CREATE TABLE operation_items (
       operation_id TEXT NOT NULL,
       seq          INTEGER NOT NULL,
       job_id       TEXT NOT NULL,
       state        TEXT NOT NULL,
       error        TEXT,
       PRIMARY KEY (operation_id, seq)
     ) WITHOUT ROWID`,
  ],
  // v5: notifications (user notices with a token bucket per user, ops alerts, webhook deliveries)
  [
    `ALTER TABLE failures ADD COLUMN user_notified INTEGER NOT NULL DEFAULT 0`,
    `ALTER TABLE outbox ADD COLUMN notices TEXT NOT NULL DEFAULT '[]'`,
    `CREATE TABLE user_buckets (
       user_id         TEXT PRIMARY KEY,
       tokens          REAL NOT NULL,
       refilled_at     INTEGER NOT NULL,
       suppressed      INTEGER NOT NULL DEFAULT 0,
       suppressed_jobs TEXT NOT NULL DEFAULT '[]'
     ) WITHOUT ROWID`,
    `CREATE TABLE deliveries (
       id          TEXT PRIMARY KEY,
       destination TEXT NOT NULL,
       payload     TEXT NOT NULL,
       created_at  INTEGER NOT NULL,
       attempts    INTEGER NOT NULL DEFAULT 0,
       next_at     INTEGER NOT NULL,
       last_error  TEXT
     ) WITHOUT ROWID`,
    `CREATE INDEX deliveries_by_destination ON deliveries (destination, next_at)`,
    `CREATE TABLE destinations (destination TEXT PRIMARY KEY, paused_until INTEGER NOT NULL) WITHOUT ROWID`,
    `CREATE TABLE alerts (
       dedup_key  TEXT PRIMARY KEY,
       state      TEXT NOT NULL,
       fingerprint TEXT,
       changed_at INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE minute_counts (minute INTEGER PRIMARY KEY, count INTEGER NOT NULL)`,
  ],
  // v6: single-use tickets that open a live WebSocket (stored as their SHA-256, about a minute
  // each), and the revoked tokens whose tickets open nothing (ids are never reused: kept for good)
  [
    `CREATE TABLE live_tickets (
       hash       TEXT PRIMARY KEY,
       token_id   TEXT NOT NULL,
       scope      TEXT NOT NULL,
       actor      TEXT NOT NULL,
       expires_at INTEGER NOT NULL
     ) WITHOUT ROWID`,
    `CREATE TABLE live_revoked (token_id TEXT PRIMARY KEY) WITHOUT ROWID`,
  ],
  // v7: failures over time per tenant and group (rings of minute, hour and day buckets; see series.ts)
  [
    `CREATE TABLE series (
       scope TEXT NOT NULL,
       unit  TEXT NOT NULL,
       slot  INTEGER NOT NULL,
       at    INTEGER NOT NULL,
       count INTEGER NOT NULL,
       PRIMARY KEY (scope, unit, slot)
     ) WITHOUT ROWID`,
    `CREATE TABLE series_rollup (unit TEXT PRIMARY KEY, below INTEGER NOT NULL) WITHOUT ROWID`,
  ],
  // v8: the outbox id sequence is ledger state, not a counter
  [
    `INSERT INTO ledger_state (key, value) SELECT 'outbox_next', value FROM counters WHERE key = 'outbox_next'`,
    `DELETE FROM counters WHERE key = 'outbox_next'`,
  ],
  // v9: append-only lists of job ids per group, class and status (see order-lists.ts), filled
  // from the failures already held, 1,000 ids a row, each row dated by its newest failure
  [
    `CREATE TABLE order_lists (
       list    TEXT NOT NULL,
       seq     INTEGER NOT NULL,
       at      INTEGER NOT NULL,
       entries TEXT NOT NULL,
       PRIMARY KEY (list, seq)
     ) WITHOUT ROWID`,
    `INSERT INTO order_lists (list, seq, at, entries)
  SELECT list, n / 1000 + 1, MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
  FROM (
    SELECT list, job_id, last_failed_at, ROW_NUMBER() OVER (PARTITION BY list ORDER BY last_failed_at, job_id) - 1 AS n
    FROM (
      SELECT 'g:' || group_fp AS list, job_id, last_failed_at FROM failures
      UNION ALL SELECT 'c:' || class, job_id, last_failed_at FROM failures
      UNION ALL SELECT 's:' || status, job_id, last_failed_at FROM failures
    )
  )
  GROUP BY list, n / 1000`,
  ],
  // v10: the counters in one row, so that a change writes one row however many counters it moves
  [
    `CREATE TABLE counter_totals (id INTEGER PRIMARY KEY CHECK (id = 1), totals TEXT NOT NULL)`,
    `INSERT INTO counter_totals (id, totals) SELECT 1, json_group_object(key, value) FROM counters`,
    `DROP TABLE counters`,
  ],
  // v11: the time order as an append-only list (see recent.ts) instead of an index entry per failure
  [
    `CREATE TABLE recent (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  oldest  INTEGER NOT NULL,
  n       INTEGER NOT NULL,
  entries TEXT NOT NULL
)`,
    `INSERT INTO recent (seq, at, oldest, n, entries)
     SELECT n / 100 + 1, MAX(MIN(last_failed_at, unixepoch() * 1000 + 300000)), MIN(last_failed_at), COUNT(*),
       json_group_array(json_array(job_id, last_failed_at))
     FROM (SELECT job_id, last_failed_at, ROW_NUMBER() OVER (ORDER BY last_failed_at, job_id) - 1 AS n FROM failures)
     GROUP BY n / 100`,
    `INSERT INTO order_lists (list, seq, at, entries)
     SELECT 'a:ahead', COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = 'a:ahead'), 0) + 1,
       MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
     FROM failures WHERE last_failed_at > unixepoch() * 1000 + 300000 HAVING COUNT(*) > 0`,
    `DROP INDEX failures_recent`,
  ],
  // v12: a group's newest order-list entries in its groups row (see order-lists.ts)
  [`ALTER TABLE groups ADD COLUMN list_tail TEXT NOT NULL DEFAULT '[]'`],
  // v13: the head row (see head.ts): counters, window buckets, minute counts, list tails and the
  // outbox sequence in one row instead of four
  [
    `CREATE TABLE ledger_head (
  id            INTEGER PRIMARY KEY CHECK (id = 1),
  totals        TEXT NOT NULL,
  day_buckets   TEXT NOT NULL,
  minute_counts TEXT NOT NULL,
  list_tails    TEXT NOT NULL,
  outbox_next   INTEGER NOT NULL
)`,
    `INSERT INTO ledger_head (id, totals, day_buckets, minute_counts, list_tails, outbox_next)
   SELECT 1, COALESCE((SELECT totals FROM counter_totals WHERE id = 1), '{}'),
     (SELECT json_group_object(bucket, count) FROM window_buckets),
     (SELECT json_group_object(minute, count) FROM minute_counts),
     '{}',
     COALESCE((SELECT CAST(value AS INTEGER) FROM ledger_state WHERE key = 'outbox_next'), 1)`,
    `DROP TABLE counter_totals`,
    `DROP TABLE window_buckets`,
    `DROP TABLE minute_counts`,
    `DELETE FROM ledger_state WHERE key = 'outbox_next'`,
  ],
  // v14: a failure's latest occurrence is archived from its row; the outbox row that refers to
  // it (see archive-refs.ts)
  [
    `ALTER TABLE failures ADD COLUMN archive_ref INTEGER`,
    `ALTER TABLE outbox ADD COLUMN archive_bytes INTEGER NOT NULL DEFAULT 0`,
    `CREATE TABLE archived_fields (
  outbox_id     INTEGER NOT NULL,
  job_id        TEXT NOT NULL,
  class         TEXT NOT NULL,
  reason        TEXT NOT NULL,
  group_fp      TEXT NOT NULL,
  error         TEXT,
  body          TEXT NOT NULL,
  body_encoding TEXT NOT NULL,
  body_redacted INTEGER NOT NULL,
  PRIMARY KEY (outbox_id, job_id)
) WITHOUT ROWID`,
  ],
];

/**
 * Brings empty (or older) storage to `version` (1..14) as the old migrate() did: one
 * transaction, the version in ledger_meta.
 */
export function migrateAsOldCode(storage: DurableObjectStorage, version = V14_MIGRATIONS.length): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`);
  const found = sql.exec<{ value: number }>(`SELECT value FROM ledger_meta WHERE key = 'schema_version'`).toArray()[0]?.value ?? 0;
  storage.transactionSync(() => {
    for (const step of V14_MIGRATIONS.slice(found, version)) for (const statement of step) sql.exec(statement);
    sql.exec(
      `INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      version,
    );
  });
}
