// The table of due work behind the ledger's single alarm. Every change re-arms the alarm to the
// earliest due time, or deletes it when nothing is due.

import { fitting, run, sql } from "../sql";

/** The kinds of due work, in the order one alarm run takes them. */
export const DUE_KINDS = ["flush", "retention", "d1-retention", "operation", "deliver", "digest", "resolve", "presume", "retry"] as const;
export type DueKind = (typeof DUE_KINDS)[number];

export const isDueKind = (kind: string): kind is DueKind => (DUE_KINDS as readonly string[]).includes(kind);

export function scheduleAt(storage: SqlStorage, kind: DueKind, key: string, dueAt: number): void {
  run(
    storage,
    sql`INSERT INTO due_work (kind, key, due_at) VALUES (${kind}, ${key}, ${dueAt})
     ON CONFLICT (kind, key) DO UPDATE SET due_at = excluded.due_at`,
  );
}

/** Schedules unless already scheduled (a pending, possibly backed-off, time is kept). */
export function scheduleIfAbsent(storage: SqlStorage, kind: DueKind, key: string, dueAt: number): void {
  run(storage, sql`INSERT INTO due_work (kind, key, due_at) VALUES (${kind}, ${key}, ${dueAt}) ON CONFLICT (kind, key) DO NOTHING`);
}

export function isScheduled(storage: SqlStorage, kind: DueKind, key: string): boolean {
  return run(storage, sql`SELECT 1 FROM due_work WHERE kind = ${kind} AND key = ${key}`).toArray().length > 0;
}

export function unschedule(storage: SqlStorage, kind: DueKind, key: string): void {
  run(storage, sql`DELETE FROM due_work WHERE kind = ${kind} AND key = ${key}`);
}

/** Work of a kind this code does not know (written by newer code during a deploy) waits for that code. */
export function postpone(storage: SqlStorage, kind: string, key: string, dueAt: number): void {
  run(storage, sql`UPDATE due_work SET due_at = ${dueAt} WHERE kind = ${kind} AND key = ${key}`);
}

export function dueNow(storage: SqlStorage, now: number, limit = 100): { kind: string; key: string; due_at: number }[] {
  return run<{ kind: string; key: string; due_at: number }>(
    storage,
    sql`SELECT kind, key, due_at FROM due_work WHERE due_at <= ${now} ORDER BY due_at LIMIT ${limit}`,
  ).toArray();
}

/** Those of `keys` whose work of this kind is still due by `now` (an earlier step may have done or moved it). */
export function stillDue(storage: SqlStorage, kind: DueKind, keys: readonly string[], now: number): string[] {
  const due = new Set(
    fitting(keys, 1, 2).flatMap((chunk) =>
      run<{ key: string }>(storage, sql`SELECT key FROM due_work WHERE kind = ${kind} AND due_at <= ${now} AND key IN ${sql.list(chunk)}`)
        .toArray()
        .map((r) => r.key),
    ),
  );
  return keys.filter((key) => due.has(key));
}

export async function rearm(storage: DurableObjectStorage): Promise<number | null> {
  const next = run<{ at: number | null }>(storage.sql, sql`SELECT MIN(due_at) AS at FROM due_work`).one().at;
  if (next === null) await storage.deleteAlarm();
  else await storage.setAlarm(next);
  return next;
}
