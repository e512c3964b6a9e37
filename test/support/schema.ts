import { resolveOccurrences } from "../../src/ledger/store/archive-refs";
import type { OutboxOccurrence } from "../../src/model";

/** Puts the counters back as ledgers before schema v10 kept them: one row per counter. */
function counterRowsAsBeforeV10(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID`);
  sql.exec(`INSERT INTO counters (key, value) SELECT key, value FROM json_each((SELECT totals FROM counter_totals))`);
  sql.exec(`DROP TABLE counter_totals`);
}

/** Puts the time order back as ledgers before schema v11 kept it: an index on the failures. */
function timeOrderAsBeforeV11(sql: SqlStorage): void {
  sql.exec(`DROP TABLE recent`);
  sql.exec(`DELETE FROM order_lists WHERE list = 'a:ahead'`);
  sql.exec(`CREATE INDEX failures_recent ON failures (last_failed_at, job_id)`);
}

/** Puts the groups' list tails back as ledgers before schema v12 kept them: in order_lists rows. */
function groupTailsAsBeforeV12(sql: SqlStorage): void {
  sql.exec(`INSERT INTO order_lists (list, seq, at, entries)
    SELECT 'g:' || fingerprint, COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = 'g:' || fingerprint), 0) + 1,
      (SELECT MAX(j.value ->> 1) FROM json_each(list_tail) j), list_tail
    FROM groups WHERE list_tail <> '[]'`);
  sql.exec(`ALTER TABLE groups DROP COLUMN list_tail`);
}

/** Puts the head row back as ledgers before schema v13 kept it: four tables and a state key. */
function headAsBeforeV13(sql: SqlStorage): void {
  sql.exec(`CREATE TABLE counter_totals (id INTEGER PRIMARY KEY CHECK (id = 1), totals TEXT NOT NULL)`);
  sql.exec(`INSERT INTO counter_totals (id, totals) SELECT 1, totals FROM ledger_head`);
  sql.exec(`CREATE TABLE window_buckets (bucket INTEGER PRIMARY KEY, count INTEGER NOT NULL)`);
  sql.exec(`INSERT INTO window_buckets (bucket, count) SELECT CAST(key AS INTEGER), value FROM json_each((SELECT day_buckets FROM ledger_head))`);
  sql.exec(`CREATE TABLE minute_counts (minute INTEGER PRIMARY KEY, count INTEGER NOT NULL)`);
  sql.exec(`INSERT INTO minute_counts (minute, count) SELECT CAST(key AS INTEGER), value FROM json_each((SELECT minute_counts FROM ledger_head))`);
  sql.exec(`INSERT INTO ledger_state (key, value) SELECT 'outbox_next', outbox_next FROM ledger_head`);
  sql.exec(`INSERT INTO order_lists (list, seq, at, entries)
    SELECT t.key, COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = t.key), 0) + 1,
      (SELECT MAX(j.value ->> 1) FROM json_each(t.value) j), t.value
    FROM json_each((SELECT list_tails FROM ledger_head)) t`);
  sql.exec(`DROP TABLE ledger_head`);
}

/** Puts the outbox back as ledgers before schema v14 kept it: every occurrence a whole copy, no refs. */
function archiveRefsAsBeforeV14(sql: SqlStorage): void {
  for (const row of sql.exec<{ id: number; occurrences: string }>(`SELECT id, occurrences FROM outbox`).toArray()) {
    const whole = resolveOccurrences(sql, row.id, JSON.parse(row.occurrences) as OutboxOccurrence[]);
    sql.exec(`UPDATE outbox SET occurrences = ? WHERE id = ?`, JSON.stringify(whole), row.id);
  }
  sql.exec(`DROP TABLE archived_fields`);
  sql.exec(`ALTER TABLE outbox DROP COLUMN archive_bytes`);
  sql.exec(`ALTER TABLE failures DROP COLUMN archive_ref`);
}

/**
 * A ledger as code of schema `version` (9 or later) left it: the later steps undone, newest
 * first, and the version set. Older versions take their own steps from there.
 */
export function asWrittenBy(sql: SqlStorage, version: number): void {
  const undo: [number, (sql: SqlStorage) => void][] = [
    [14, archiveRefsAsBeforeV14],
    [13, headAsBeforeV13],
    [12, groupTailsAsBeforeV12],
    [11, timeOrderAsBeforeV11],
    [10, counterRowsAsBeforeV10],
  ];
  for (const [step, undoStep] of undo) if (step > version) undoStep(sql);
  sql.exec(`UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'`, version);
}
