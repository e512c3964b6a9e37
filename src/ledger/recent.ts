// The ledger's time order: an append-only list of [job id, last_failed_at] entries, one row per
// change that moved a failure's last_failed_at, instead of an index entry per failure. Pages read
// it newest first, retention oldest first.
//
// A row's `at` is the latest entry time in it and every row before it (a running maximum), so
// no entry dated after row k-1's `at` lies in a row before k: a page reads the list in steps, one
// per row, newest first (see newestMatching). Failures arriving late (dated before failures
// already recorded) cost only a few more rows read. An entry dated more than
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
/** Entries per row when the list is filled from the failures held: as many as a batch of record() writes. */
const ENTRIES_PER_ROW = 100;
/** Rows (their dates, or their entries when retention walks them) read per statement. */
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

export interface Walk {
  /** The failures found, newest first by (last_failed_at, job_id). */
  found: Entry[];
  /** Where to go on from when the budget ran out before the failures did. */
  resume: PageCursor | null;
}

const MIN = Number.MIN_SAFE_INTEGER;
const MAX = Number.MAX_SAFE_INTEGER;
const newestFirstOrder = (a: Entry, b: Entry) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
const isAfter = (e: Entry, before?: PageCursor) =>
  !before || e[1] < before.lastFailedAt || (e[1] === before.lastFailedAt && e[0] < before.jobId);

/**
 * Up to `want` failures held that match `filter`, newest first, after `before`. With a filter, it
 * looks at no more than `budget` failures, then says where to resume.
 *
 * It goes by steps: the step of row k hands out the entries dated after row k+1's `at` and up to
 * row k's, which only row k and the rows after it can hold (and of those, only rows whose
 * `oldest` is no later). Each step is one statement: the entries, their failures and the filter
 * are matched in SQLite, and only what the page takes comes back.
 */
export function newestMatching(storage: SqlStorage, want: number, before?: PageCursor, filter?: Sql, budget = Infinity): Walk {
  const found: Entry[] = [];
  let looked = 0;
  const ahead = aheadEntries(storage, filter).filter((e) => isAfter(e.entry, before));
  let row = (before ? stepRowAt(storage, before.lastFailedAt) : null) ?? newestRow(storage);
  let top = MAX;
  for (;;) {
    const next = row ? run<{ seq: number; at: number }>(storage, sql`SELECT seq, at FROM recent WHERE seq < ${row.seq} ORDER BY seq DESC LIMIT 1`).toArray()[0] : undefined;
    const bound = next?.at ?? MIN;
    const aheadInStep = ahead.filter((e) => e.entry[1] > bound && e.entry[1] <= top);
    const step = row ? stepEntries(row.seq, Math.min(top, row.at), bound, before) : null;
    const need = want - found.length;
    if (!filter) {
      const taken = step
        ? run<{ job_id: string; last_failed_at: number }>(
            storage,
            sql`SELECT f.job_id, f.last_failed_at ${step} ORDER BY f.last_failed_at DESC, f.job_id DESC LIMIT ${need}`,
          )
            .toArray()
            .map((r): Entry => [r.job_id, r.last_failed_at])
        : [];
      found.push(...[...taken, ...aheadInStep.map((e) => e.entry)].sort(newestFirstOrder).slice(0, need));
      if (found.length >= want) return { found, resume: null };
    } else {
      // One pass over the step: the matches among the first `remaining` entries of it (newest
      // first), how many it holds (`n`), and the last one looked at (`down` = the cut).
      const remaining = Number.isFinite(budget) ? Math.max(budget - looked - aheadInStep.length, 1) : MAX;
      const rows = step
        ? run<{ job_id: string; last_failed_at: number; m: number; n: number; down: number }>(
            storage,
            sql`SELECT * FROM (
                  SELECT f.job_id, f.last_failed_at, (${filter}) AS m, COUNT(*) OVER () AS n,
                    ROW_NUMBER() OVER (ORDER BY f.last_failed_at DESC, f.job_id DESC) AS down
                  ${step})
                WHERE (m = 1 AND down <= ${remaining}) OR down = MIN(${remaining}, n)`,
          ).toArray()
        : [];
      const n = rows[0]?.n ?? 0;
      const cutRow = rows.find((r) => r.down === Math.min(remaining, n));
      const cut: Entry | null = n > remaining && cutRow ? [cutRow.job_id, cutRow.last_failed_at] : null;
      // Ahead-dated entries of the step count only above the cut (the next page starts there).
      const aheadSeen = cut ? aheadInStep.filter((e) => newestFirstOrder(e.entry, cut) < 0) : aheadInStep;
      const matched = [
        ...rows.filter((r) => r.m === 1 && r.down <= remaining).map((r): Entry => [r.job_id, r.last_failed_at]),
        ...aheadSeen.filter((e) => e.matches).map((e) => e.entry),
      ];
      found.push(...matched.sort(newestFirstOrder).slice(0, need));
      if (found.length >= want) return { found, resume: null };
      if (cut) return { found, resume: { lastFailedAt: cut[1], jobId: cut[0] } };
      looked += n + aheadSeen.length;
      const looks = [...(cutRow ? [[cutRow.job_id, cutRow.last_failed_at] as Entry] : []), ...aheadSeen.map((e) => e.entry)];
      const last = looks.sort(newestFirstOrder)[looks.length - 1];
      const more = next !== undefined || ahead.some((e) => e.entry[1] <= bound);
      if (looked >= budget && last && more) return { found, resume: { lastFailedAt: last[1], jobId: last[0] } };
    }
    if (!next) return { found, resume: null };
    row = next;
    top = bound;
  }
}

/**
 * FROM … WHERE … of the entries still held in the rows from `seq` on, dated in (bound, top] and
 * after `before`, joined to their failures (as `f`; a filter's columns are the failure's).
 */
function stepEntries(seq: number, top: number, bound: number, before?: PageCursor): Sql {
  const position = before
    ? sql` AND (f.last_failed_at < ${before.lastFailedAt} OR (f.last_failed_at = ${before.lastFailedAt} AND f.job_id < ${before.jobId}))`
    : sql``;
  // CROSS JOIN keeps this order: the few rows, their entries, then each failure by its key.
  return sql`FROM recent r CROSS JOIN json_each(r.entries) j CROSS JOIN failures f
    WHERE r.seq >= ${seq} AND r.oldest <= ${top} AND j.value ->> 1 > ${bound} AND j.value ->> 1 <= ${top}
      AND f.job_id = j.value ->> 0 AND f.last_failed_at = j.value ->> 1${position}`;
}

function newestRow(storage: SqlStorage): { seq: number; at: number } | null {
  return run<{ seq: number; at: number }>(storage, sql`SELECT seq, at FROM recent ORDER BY seq DESC LIMIT 1`).toArray()[0] ?? null;
}

/** The row whose step holds `at`: the oldest row dated at or after it (none if every row is older). */
function stepRowAt(storage: SqlStorage, at: number): { seq: number; at: number } | null {
  const below = run<{ seq: number }>(storage, sql`SELECT seq FROM recent WHERE at < ${at} ORDER BY seq DESC LIMIT 1`).toArray()[0]?.seq ?? MIN;
  return run<{ seq: number; at: number }>(storage, sql`SELECT seq, at FROM recent WHERE seq > ${below} ORDER BY seq LIMIT 1`).toArray()[0] ?? null;
}

/** The ahead list's entries still held, each with whether it matches `filter`. */
function aheadEntries(storage: SqlStorage, filter?: Sql): { entry: Entry; matches: boolean }[] {
  const entries = listEntries(storage, orderList.ahead);
  return fitting(entries, 1, filter?.params.length ?? 0).flatMap((chunk) => {
    const found = new Map(
      run<{ job_id: string; last_failed_at: number; m: number }>(
        storage,
        sql`SELECT job_id, last_failed_at, ${filter ? sql`(${filter})` : sql.raw("1")} AS m FROM failures WHERE job_id IN ${sql.list(chunk.map((e) => e[0]))}`,
      )
        .toArray()
        .map((r) => [r.job_id, r]),
    );
    return chunk.flatMap(([jobId, at]) => {
      const row = found.get(jobId);
      return row && row.last_failed_at === at ? [{ entry: [jobId, at] as Entry, matches: row.m === 1 }] : [];
    });
  });
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
