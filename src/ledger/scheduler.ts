// The table of due work behind the ledger's single alarm. Every change re-arms the alarm to the
// earliest due time, or deletes it when nothing is due.

import { fitting, run, sql as q } from "../sql";

/** The kinds of due work, in the order one alarm run takes them. */
export const DUE_KINDS = ["flush", "retention", "d1-retention", "operation", "deliver", "digest", "resolve", "presume", "retry"] as const;
export type DueKind = (typeof DUE_KINDS)[number];

export const isDueKind = (kind: string): kind is DueKind => (DUE_KINDS as readonly string[]).includes(kind);

export function scheduleAt(sql: SqlStorage, kind: DueKind, key: string, dueAt: number): void {
  sql.exec(
    `INSERT INTO due_work (kind, key, due_at) VALUES (?, ?, ?)
     ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at`,
    kind,
    key,
    dueAt,
  );
}

/** Schedules unless already scheduled (a pending, possibly backed-off, time is kept). */
export function scheduleIfAbsent(sql: SqlStorage, kind: DueKind, key: string, dueAt: number): void {
  sql.exec(`INSERT INTO due_work (kind, key, due_at) VALUES (?, ?, ?) ON CONFLICT (kind, key) DO NOTHING`, kind, key, dueAt);
}

export function isScheduled(sql: SqlStorage, kind: DueKind, key: string): boolean {
  return sql.exec(`SELECT 1 FROM due_work WHERE kind = ? AND key = ?`, kind, key).toArray().length > 0;
}

export function unschedule(sql: SqlStorage, kind: DueKind, key: string): void {
  sql.exec(`DELETE FROM due_work WHERE kind = ? AND key = ?`, kind, key);
}

/** Work of a kind this code does not know (written by newer code during a deploy) waits for that code. */
export function postpone(sql: SqlStorage, kind: string, key: string, dueAt: number): void {
  sql.exec(`UPDATE due_work SET due_at = ? WHERE kind = ? AND key = ?`, dueAt, kind, key);
}

export function dueNow(sql: SqlStorage, now: number, limit = 100): { kind: string; key: string; due_at: number }[] {
  return sql
    .exec<{ kind: string; key: string; due_at: number }>(
      `SELECT kind, key, due_at FROM due_work WHERE due_at <= ? ORDER BY due_at LIMIT ?`,
      now,
      limit,
    )
    .toArray();
}

/** Those of `keys` whose work of this kind is still due by `now` (an earlier step may have done or moved it). */
export function stillDue(sql: SqlStorage, kind: DueKind, keys: readonly string[], now: number): string[] {
  const due = new Set(
    fitting(keys, 1, 2).flatMap((chunk) =>
      run<{ key: string }>(sql, q`SELECT key FROM due_work WHERE kind = ${kind} AND due_at <= ${now} AND key IN ${q.list(chunk)}`)
        .toArray()
        .map((r) => r.key),
    ),
  );
  return keys.filter((key) => due.has(key));
}

export async function rearm(storage: DurableObjectStorage): Promise<number | null> {
  const next = storage.sql.exec<{ at: number | null }>(`SELECT MIN(due_at) AS at FROM due_work`).one().at;
  if (next === null) await storage.deleteAlarm();
  else await storage.setAlarm(next);
  return next;
}
