// The ledger's SQLite schema, versioned in code; the applied version lives in ledger_meta (PRAGMA
// user_version is not available in DO SQLite).
//
// A fresh ledger runs BASELINE (schema v15, the tables as they are, each created once), then
// every step in LEDGER_STEPS. A ledger at v14 (the last version of the step-by-step migrations
// before the baseline) takes FROM_V14 instead of BASELINE, then the same steps. Older ledgers are
// refused. So fresh and upgraded ledgers share every statement after v15, and BASELINE never
// changes: a schema change is one more entry in LEDGER_STEPS, and test/ledger/schema.test.ts
// checks, for whatever steps there are, that a v14 ledger upgraded through them is a fresh one.
//
// Column order matters: ALTER TABLE ADD COLUMN appends, so BASELINE lists each table's columns in
// the order v14's steps left them, and a later step that adds a column adds it at the end.
//
// The DDL is static text run as it is; the statements that take values go through the sql tag.

import { run, sql } from "../sql";

/** The version BASELINE creates. */
export const BASELINE_VERSION = 15;

/** The oldest version this code upgrades from (scripts/start.mjs reads this line). */
export const OLDEST_UPGRADABLE = 14;

const BASELINE: readonly string[] = [
  // the failures held, one row per job, with its latest occurrence's fields
  `CREATE TABLE failures (
     job_id            TEXT PRIMARY KEY,
     user_id           TEXT,
     queue             TEXT NOT NULL,
     class             TEXT NOT NULL,
     reason            TEXT NOT NULL,
     status            TEXT NOT NULL,
     attempts          INTEGER NOT NULL,
     occurrences       INTEGER NOT NULL,
     group_fp          TEXT NOT NULL,
     error             TEXT,
     body              TEXT NOT NULL,
     body_encoding     TEXT NOT NULL,
     first_failed_at   INTEGER NOT NULL,
     last_failed_at    INTEGER NOT NULL,
     recent_keys       TEXT NOT NULL,
     outbox_seq        INTEGER NOT NULL DEFAULT 0,
     recovery_attempts INTEGER NOT NULL DEFAULT 0,
     retry_in_flight   INTEGER,
     last_retry_at     INTEGER,
     poison_streak     INTEGER NOT NULL DEFAULT 0,
     recovery_note     TEXT,
     body_redacted     INTEGER NOT NULL DEFAULT 0,
     sealed_body       TEXT,
     user_notified     INTEGER NOT NULL DEFAULT 0,
     archive_ref       INTEGER
   ) WITHOUT ROWID`,
  // groups by fingerprint, with their newest order-list entries (store/order-lists.ts)
  `CREATE TABLE groups (
     fingerprint     TEXT PRIMARY KEY,
     queue           TEXT NOT NULL,
     class           TEXT NOT NULL,
     error_name      TEXT NOT NULL,
     message_sample  TEXT NOT NULL,
     sample_job_id   TEXT NOT NULL,
     count           INTEGER NOT NULL,
     first_seen      INTEGER NOT NULL,
     last_seen       INTEGER NOT NULL,
     list_tail       TEXT NOT NULL DEFAULT '[]'
   ) WITHOUT ROWID`,
  // the head row (head.ts): counters, window buckets, minute counts, list tails, outbox sequence
  `CREATE TABLE ledger_head (
     id            INTEGER PRIMARY KEY CHECK (id = 1),
     totals        TEXT NOT NULL,
     day_buckets   TEXT NOT NULL,
     minute_counts TEXT NOT NULL,
     list_tails    TEXT NOT NULL,
     outbox_next   INTEGER NOT NULL
   )`,
  `INSERT INTO ledger_head (id, totals, day_buckets, minute_counts, list_tails, outbox_next) VALUES (1, '{}', '{}', '{}', '{}', 1)`,
  // small named values (state.ts)
  `CREATE TABLE ledger_state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID`,
  // the table of due work behind the single alarm (scheduler.ts)
  `CREATE TABLE due_work (
     kind   TEXT NOT NULL,
     key    TEXT NOT NULL,
     due_at INTEGER NOT NULL,
     PRIMARY KEY (kind, key)
   ) WITHOUT ROWID`,
  `CREATE INDEX due_work_by_time ON due_work (due_at)`,
  // the outbox flushed to D1 and R2 (outbox.ts, flush.ts), and the fields kept for its refs (store/legacy-refs.ts)
  `CREATE TABLE outbox (
     id             INTEGER PRIMARY KEY,
     created_at     INTEGER NOT NULL,
     job_ids        TEXT NOT NULL,
     occurrences    TEXT NOT NULL,
     archive_key    TEXT,
     archive_offset INTEGER,
     notices        TEXT NOT NULL DEFAULT '[]',
     archive_bytes  INTEGER NOT NULL DEFAULT 0
   )`,
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
  // the time order (store/time-order.ts) and the order lists per group, class and status (store/order-lists.ts)
  `CREATE TABLE recent (
     seq     INTEGER PRIMARY KEY,
     at      INTEGER NOT NULL,
     oldest  INTEGER NOT NULL,
     n       INTEGER NOT NULL,
     entries TEXT NOT NULL
   )`,
  `CREATE TABLE order_lists (
     list    TEXT NOT NULL,
     seq     INTEGER NOT NULL,
     at      INTEGER NOT NULL,
     entries TEXT NOT NULL,
     PRIMARY KEY (list, seq)
   ) WITHOUT ROWID`,
  // recovery (recovery/): retries, circuit breakers, manual and bulk actions with an audit trail
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
  // notifications (notify/): user notices with a token bucket per user, ops alerts, webhook deliveries
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
     dedup_key   TEXT PRIMARY KEY,
     state       TEXT NOT NULL,
     fingerprint TEXT,
     changed_at  INTEGER NOT NULL
   ) WITHOUT ROWID`,
  // single-use tickets that open a live WebSocket (stored as their SHA-256, about a minute each),
  // and the revoked tokens whose tickets open nothing (ids are never reused: kept for good)
  `CREATE TABLE live_tickets (
     hash       TEXT PRIMARY KEY,
     token_id   TEXT NOT NULL,
     scope      TEXT NOT NULL,
     actor      TEXT NOT NULL,
     expires_at INTEGER NOT NULL
   ) WITHOUT ROWID`,
  `CREATE TABLE live_revoked (token_id TEXT PRIMARY KEY) WITHOUT ROWID`,
  // failures over time per tenant and group (aggregates/series.ts)
  `CREATE TABLE series (
     scope TEXT NOT NULL,
     unit  TEXT NOT NULL,
     slot  INTEGER NOT NULL,
     at    INTEGER NOT NULL,
     count INTEGER NOT NULL,
     PRIMARY KEY (scope, unit, slot)
   ) WITHOUT ROWID`,
  `CREATE TABLE series_rollup (unit TEXT PRIMARY KEY, below INTEGER NOT NULL) WITHOUT ROWID`,
];

/**
 * v14 → v15: no statement. A v14 ledger already has the baseline's tables, columns and indexes
 * (test/ledger/schema.test.ts compares them), and what the old steps left in it is data the
 * current code reads as its own: list and time-order rows filled in bulk (v9, v11), empty group
 * tails (v12), the head row (v13, which also took the outbox sequence out of ledger_state), whole
 * occurrence copies in outbox rows not yet flushed (from before v14). The step records v15.
 */
const FROM_V14: readonly string[] = [];

/**
 * The steps after the baseline: entry i brings a ledger from v(15 + i) to v(16 + i). Append only;
 * never edit an entry once released. ALTER TABLE ADD COLUMN puts a column last, wherever written.
 */
export const LEDGER_STEPS: readonly (readonly string[])[] = [
  // v16: occurrences are no longer archived from their failure rows (the outbox copies each one).
  // Outbox rows still pending may hold refs to rows that are about to move on: their fields are
  // kept beside them, as v15 kept them when a row moved on, so the flush archives them as they
  // came (store/legacy-refs.ts). The rows' archive_ref column stays, unused: dropping it would
  // rewrite every row.
  [
    `INSERT INTO archived_fields (outbox_id, job_id, class, reason, group_fp, error, body, body_encoding, body_redacted)
     SELECT archive_ref, job_id, class, reason, group_fp, error, body, body_encoding, body_redacted FROM failures
     WHERE archive_ref >= (SELECT MIN(id) FROM outbox)
     ON CONFLICT DO NOTHING`,
  ],
  // v17: triage: each group's state (open, resolved), its substate while open (ongoing,
  // regressed, escalating), who changed it and when, and its history of changes
  [
    `ALTER TABLE groups ADD COLUMN state TEXT NOT NULL DEFAULT 'open'`,
    `ALTER TABLE groups ADD COLUMN substate TEXT NOT NULL DEFAULT 'ongoing'`,
    `ALTER TABLE groups ADD COLUMN state_changed_at INTEGER`,
    `ALTER TABLE groups ADD COLUMN state_changed_by TEXT`,
    `CREATE TABLE group_history (
       fingerprint TEXT NOT NULL,
       seq         INTEGER NOT NULL,
       at          INTEGER NOT NULL,
       actor       TEXT NOT NULL,
       action      TEXT NOT NULL,
       detail      TEXT,
       PRIMARY KEY (fingerprint, seq)
     ) WITHOUT ROWID`,
  ],
];

export const SCHEMA_VERSION = BASELINE_VERSION + LEDGER_STEPS.length;

/**
 * Brings the ledger's schema up to the newest version (BASELINE_VERSION + steps.length); returns
 * the version it found (0: a fresh ledger). Throws, saying what to do, for a version it does not
 * know how to upgrade.
 */
export function migrate(storage: DurableObjectStorage, steps = LEDGER_STEPS): number {
  const newest = BASELINE_VERSION + steps.length;
  storage.sql.exec(`CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`);
  const found = schemaVersion(storage.sql);
  if (found > newest) {
    throw new Error(
      `Ledger schema is at v${found} but this code knows only v${newest}: deploy the newer code, or roll the schema forward, never back.`,
    );
  }
  if (found === newest) return found;
  if (found !== 0 && found < OLDEST_UPGRADABLE) {
    throw new Error(
      `Ledger schema is at v${found}: written by code older than v${OLDEST_UPGRADABLE}, which this code no longer upgrades. ` +
        `Open this ledger once with code from before the v${BASELINE_VERSION} schema baseline (commit 4cbbf91 or earlier; it brings any ledger to v14), then with this code; ` +
        "or, for local state, start afresh with `npm start -- --reset`.",
    );
  }
  storage.transactionSync(() => {
    if (found === 0) for (const statement of BASELINE) storage.sql.exec(statement);
    if (found === OLDEST_UPGRADABLE) for (const statement of FROM_V14) storage.sql.exec(statement);
    const from = Math.max(found, BASELINE_VERSION);
    for (const step of steps.slice(from - BASELINE_VERSION)) for (const statement of step) storage.sql.exec(statement);
    run(
      storage.sql,
      sql`INSERT INTO ledger_meta (key, value) VALUES ('schema_version', ${newest})
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
  });
  return found;
}

export function schemaVersion(storage: SqlStorage): number {
  const row = run<{ value: number }>(storage, sql`SELECT value FROM ledger_meta WHERE key = 'schema_version'`).toArray()[0];
  return row?.value ?? 0;
}
