// The ledger's time order: an append-only list of [job id, last_failed_at] entries, one row per
// change that moved a failure's last_failed_at, instead of an index entry per failure. Pages read
// it newest first, retention oldest first.
//
// A row's `at` is the latest entry time in it and every row before it (a running maximum), so
// rows read newest first by seq never hold an entry later than the next row's `at`: an entry can
// be handed out once the row after it is known to be dated earlier. Failures arriving late (dated
// before failures already recorded) cost only a few more rows read. An entry dated more than
// AHEAD_MS past the ledger's clock does not raise `at` (one bad clock would otherwise date every
// later row in the future); it also goes to the `ahead` order list, which every read merges whole.
//
// Entries go stale as in order-lists.ts: an entry counts only while its failure still has that
// last_failed_at. `oldest` is at most the earliest entry still held in the row; retention drops
// rows whose entries are all gone and rewrites the rest without their stale entries.

import { fitting, run, sql, type Sql } from "../sql";
import { listEntries, orderList, type ListAppends } from "./order-lists";
import type { PageCursor } from "./queries";

/** [job id, its last_failed_at] */
export type Entry = [string, number];

/** A failure time this far past the ledger's clock is not trusted to date its row. */
export const AHEAD_MS = 5 * 60_000;
/** Entries per row when the list is filled from the failures held. */
const ENTRIES_PER_ROW = 1_000;
/** Rows read per statement. */
const ROWS_PER_READ = 8;

export const RECENT_TABLE = `CREATE TABLE recent (
  seq     INTEGER PRIMARY KEY,
  at      INTEGER NOT NULL,
  oldest  INTEGER NOT NULL,
  entries TEXT NOT NULL
)`;

/**
 * Fills the list from the failures held, oldest first, ENTRIES_PER_ROW to a row, and the ahead
 * list; `now` is an SQL expression for the ledger's clock.
 */
export function recentFromFailures(now = "unixepoch() * 1000"): string[] {
  return [
    `INSERT INTO recent (seq, at, oldest, entries)
     SELECT n / ${ENTRIES_PER_ROW} + 1, MAX(MIN(last_failed_at, ${now} + ${AHEAD_MS})), MIN(last_failed_at),
       json_group_array(json_array(job_id, last_failed_at))
     FROM (SELECT job_id, last_failed_at, ROW_NUMBER() OVER (ORDER BY last_failed_at, job_id) - 1 AS n FROM failures)
     GROUP BY n / ${ENTRIES_PER_ROW}`,
    `INSERT INTO order_lists (list, seq, at, entries)
     SELECT '${orderList.ahead}', COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = '${orderList.ahead}'), 0) + 1,
       MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
     FROM failures WHERE last_failed_at > ${now} + ${AHEAD_MS} HAVING COUNT(*) > 0`,
  ];
}

/** The entries one change appends: the jobs whose last_failed_at it moved. */
export class RecentAppends {
  private readonly entries = new Map<string, number>();

  moved(jobId: string, lastFailedAt: number): void {
    this.entries.set(jobId, lastFailedAt);
  }

  /** One row; the entries dated ahead of `now` also go to the ahead list. */
  write(storage: SqlStorage, lists: ListAppends, now: number): void {
    for (const [jobId, at] of appendRecent(storage, [...this.entries], now)) lists.add(orderList.ahead, jobId, at);
  }
}

/** Appends one row of entries; returns those dated too far ahead of `now` to date it. */
function appendRecent(storage: SqlStorage, entries: readonly Entry[], now: number): Entry[] {
  if (entries.length === 0) return [];
  const trusted = now + AHEAD_MS;
  const previous = run<{ at: number }>(storage, sql`SELECT at FROM recent ORDER BY seq DESC LIMIT 1`).toArray()[0]?.at;
  let at = previous ?? Number.MIN_SAFE_INTEGER;
  let oldest = Number.MAX_SAFE_INTEGER;
  const ahead: Entry[] = [];
  for (const e of entries) {
    oldest = Math.min(oldest, e[1]);
    if (e[1] > trusted) ahead.push(e);
    else at = Math.max(at, e[1]);
  }
  if (at === Number.MIN_SAFE_INTEGER) at = Math.min(oldest, now);
  run(storage, sql`INSERT INTO recent (at, oldest, entries) VALUES (${at}, ${oldest}, ${JSON.stringify(entries)})`);
  return ahead;
}

const newestFirstOrder = (a: Entry, b: Entry) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);

export interface Listed {
  jobId: string;
  lastFailedAt: number;
  /** Whether the failure matches the filter it was read with (true without one). */
  matches: boolean;
}

/**
 * The failures held, newest first by (last_failed_at, job_id), after `before` if given, each
 * with whether it matches `filter`. Lazy: a caller that stops early reads only what it took.
 */
export function* newestFirst(storage: SqlStorage, before?: PageCursor, filter?: Sql): Generator<Listed> {
  const after = (e: Entry) => !before || e[1] < before.lastFailedAt || (e[1] === before.lastFailedAt && e[0] < before.jobId);
  const seen = new Set<string>();
  let pending: Entry[] = [];
  const take = (entries: readonly Entry[]) => {
    for (const e of entries) {
      const key = `${e[0]}\u0000${e[1]}`;
      if (!after(e) || seen.has(key)) continue;
      seen.add(key);
      pending.push(e);
    }
    pending.sort(newestFirstOrder);
  };
  take(listEntries(storage, orderList.ahead));

  const rows: { seq: number; at: number; entries: string }[] = [];
  let below = Number.MAX_SAFE_INTEGER;
  let exhausted = false;
  const nextRow = () => {
    if (rows.length === 0 && !exhausted) {
      rows.push(
        ...run<{ seq: number; at: number; entries: string }>(
          storage,
          sql`SELECT seq, at, entries FROM recent WHERE seq < ${below} ORDER BY seq DESC LIMIT ${sql.raw(String(ROWS_PER_READ))}`,
        ).toArray(),
      );
      exhausted = rows.length < ROWS_PER_READ;
      below = rows[rows.length - 1]?.seq ?? below;
    }
    return rows[0];
  };

  for (;;) {
    const next = nextRow();
    const bound = next?.at ?? Number.NEGATIVE_INFINITY;
    let ready = 0;
    while (ready < pending.length && pending[ready]![1] > bound) ready++;
    if (ready > 0) {
      const out = pending.slice(0, ready);
      pending = pending.slice(ready);
      for (const chunk of fitting(out, 1, filter?.params.length ?? 0)) yield* held(storage, chunk, filter);
    }
    if (!next) return;
    rows.shift();
    take(JSON.parse(next.entries) as Entry[]);
  }
}

/** The entries of `chunk` still current (their failure has that last_failed_at), in the chunk's order. */
function* held(storage: SqlStorage, chunk: readonly Entry[], filter?: Sql): Generator<Listed> {
  const found = new Map(
    run<{ job_id: string; last_failed_at: number; m: number }>(
      storage,
      sql`SELECT job_id, last_failed_at, ${filter ? sql`(${filter})` : sql.raw("1")} AS m FROM failures WHERE job_id IN ${sql.list(chunk.map((e) => e[0]))}`,
    )
      .toArray()
      .map((r) => [r.job_id, r]),
  );
  for (const [jobId, at] of chunk) {
    const row = found.get(jobId);
    if (row && row.last_failed_at === at) yield { jobId, lastFailedAt: at, matches: row.m === 1 };
  }
}

export interface RecentRow {
  seq: number;
  oldest: number;
  entries: Entry[];
}

/** The list's rows, oldest first (for retention). */
export function* oldestRows(storage: SqlStorage): Generator<RecentRow> {
  let above = Number.MIN_SAFE_INTEGER;
  for (;;) {
    const rows = run<{ seq: number; oldest: number; entries: string }>(
      storage,
      sql`SELECT seq, oldest, entries FROM recent WHERE seq > ${above} ORDER BY seq LIMIT ${sql.raw(String(ROWS_PER_READ))}`,
    ).toArray();
    for (const r of rows) yield { seq: r.seq, oldest: r.oldest, entries: JSON.parse(r.entries) as Entry[] };
    if (rows.length < ROWS_PER_READ) return;
    above = rows[rows.length - 1]!.seq;
  }
}

/** Keeps only `entries` in a row (dropping it when none is left). */
export function rewriteRow(storage: SqlStorage, seq: number, entries: readonly Entry[]): void {
  if (entries.length === 0) run(storage, sql`DELETE FROM recent WHERE seq = ${seq}`);
  else
    run(
      storage,
      sql`UPDATE recent SET oldest = ${Math.min(...entries.map((e) => e[1]))}, entries = ${JSON.stringify(entries)} WHERE seq = ${seq}`,
    );
}

/** The earliest entry time of the oldest row, or null when the list is empty. */
export function firstRowOldest(storage: SqlStorage): number | null {
  return run<{ oldest: number }>(storage, sql`SELECT oldest FROM recent ORDER BY seq LIMIT 1`).toArray()[0]?.oldest ?? null;
}

/** No failure held failed before this (a scan of the rows' `oldest`, for occasional pruning). */
export function heldSince(storage: SqlStorage): number | null {
  return run<{ at: number | null }>(storage, sql`SELECT MIN(oldest) AS at FROM recent`).one().at;
}
