// The ledger's time order: an append-only list of [job id, last_failed_at] entries, one row per
// change that moved a failure's last_failed_at, instead of an index entry per failure. Pages read
// it newest first, retention oldest first.
//
// A row's `at` is the latest entry time in it and every row before it (a running maximum), so
// no entry dated after row k-1's `at` lies in a row before k: a page reads the list in steps, one
// per row, newest first (see newestMatching). Failures arriving late (dated before failures
// already recorded) cost only a few more rows read. An entry dated more than
// AHEAD_MS past the ledger's clock does not raise `at` (one bad clock would otherwise date every
// later row in the future); it also goes to the `ahead` order list, which every read merges whole,
// until the clock catches up with it and a record puts it back into the order.
//
// Entries go stale as in order-lists.ts: an entry counts only while its failure still has that
// last_failed_at. `oldest` is at most the earliest entry still held in the row; retention drops
// rows whose entries are all gone and rewrites the rest without their stale entries.

import { fitting, run, sql, type Sql } from "../../sql";
import { isAfter, newestFirstOrder, type Entry, type PageCursor } from "./cursor";
import { listEntries, orderList, type ListAppends } from "./order-lists";
import type { TailsPart } from "../head";


/** A failure time this far past the ledger's clock is not trusted to date its row. */
export const AHEAD_MS = 5 * 60_000;
/** Ahead-list rows one change puts back into the order. */
const CAUGHT_UP_ROWS = 4;
/** Rows retention reads per statement, entries and all. */
const ROWS_PER_READ = 8;

/** The entries one change appends: the jobs whose last_failed_at it moved. */
export class RecentAppends {
  private readonly entries = new Map<string, number>();

  moved(jobId: string, lastFailedAt: number): void {
    this.entries.set(jobId, lastFailedAt);
  }

  get empty(): boolean {
    return this.entries.size === 0;
  }

  /**
   * One row. The entries dated ahead of `now` also go to the ahead list; the ahead list's entries
   * the clock has caught up with come back into the order in this row (so the ahead list, which
   * every page reads whole, holds only what is still ahead).
   */
  write(storage: SqlStorage, tails: TailsPart, lists: ListAppends, now: number): void {
    // An entry this change wrote is the job's current one; a caught-up entry for the same job is older or stale.
    for (const [jobId, at] of caughtUpAhead(storage, tails, now)) if (!this.entries.has(jobId)) this.entries.set(jobId, at);
    for (const [jobId, at] of appendRecent(storage, [...this.entries], now)) lists.add(orderList.ahead, jobId, at);
  }
}

/** The ahead list's entries no longer ahead of `now`, taken off the list. */
function caughtUpAhead(storage: SqlStorage, tails: TailsPart, now: number): Entry[] {
  const trusted = now + AHEAD_MS;
  const due: Entry[] = [];
  const tail = tails.get(orderList.ahead);
  if (tail.some((e) => e[1] <= trusted)) {
    due.push(...tail.filter((e) => e[1] <= trusted));
    tails.set(orderList.ahead, tail.filter((e) => e[1] > trusted));
  }
  // A list row's `at` is at least each of its entries: a row dated by now holds only entries due.
  // A few rows a change (up to 1,000 entries each): a long quiet spell's backlog comes back over
  // the next records, never as one row past the row size limit.
  const rows = run<{ seq: number; entries: string }>(
    storage,
    sql`SELECT seq, entries FROM order_lists WHERE list = ${orderList.ahead} AND at <= ${trusted} ORDER BY seq LIMIT ${CAUGHT_UP_ROWS}`,
  ).toArray();
  for (const row of rows) {
    due.push(...(JSON.parse(row.entries) as Entry[]));
    run(storage, sql`DELETE FROM order_lists WHERE list = ${orderList.ahead} AND seq = ${row.seq}`);
  }
  return due;
}

/** Appends one row of entries; returns those dated too far ahead of `now` to date it. */
function appendRecent(storage: SqlStorage, entries: readonly Entry[], now: number): Entry[] {
  if (entries.length === 0) return [];
  const trusted = now + AHEAD_MS;
  const previous = newestRow(storage)?.at;
  let at = previous ?? Number.MIN_SAFE_INTEGER;
  let oldest = Number.MAX_SAFE_INTEGER;
  const ahead: Entry[] = [];
  for (const e of entries) {
    oldest = Math.min(oldest, e[1]);
    if (e[1] > trusted) ahead.push(e);
    else at = Math.max(at, e[1]);
  }
  if (at === Number.MIN_SAFE_INTEGER) at = Math.min(oldest, now);
  run(storage, sql`INSERT INTO recent (at, oldest, n, entries) VALUES (${at}, ${oldest}, ${entries.length}, ${JSON.stringify(entries)})`);
  return ahead;
}

interface Walk {
  /** The failures found, newest first by (last_failed_at, job_id). */
  found: Entry[];
  /** Where to go on from when the budget ran out before the failures did. */
  resume: PageCursor | null;
}

/** A row's date, earliest entry and entry count: what the walk plans its steps by. */
type Header = {
  seq: number;
  at: number;
  oldest: number;
  n: number;
};

const MIN = Number.MIN_SAFE_INTEGER;
const MAX = Number.MAX_SAFE_INTEGER;
/** Row headers read per statement. */
const HEADERS_PER_READ = 32;
/** A step takes whole rows until it holds this many entries, so small rows share a statement. */
const STEP_ENTRIES = 100;
/** Rows named in one step's statement; beyond it the step reads a range of rows instead. */
const STEP_ROWS = 80;


/**
 * Up to `want` failures held that match `filter`, newest first, after `before`. With a filter, it
 * looks at no more than `budget` failures, then says where to resume.
 *
 * It goes by steps of whole rows, newest first. The step of rows k … k+m hands out the entries
 * dated after row k+m+1's `at` and up to where the step before stopped: only those rows and later
 * ones can hold such entries, and of the later ones only those whose `oldest` is no later (the
 * walk keeps them, `active`). Each step is one statement that matches the entries, their failures
 * and the filter in SQLite, and returns only what the page takes.
 */
export function newestMatching(storage: SqlStorage, want: number, before?: PageCursor, filter?: Sql, budget = Infinity): Walk {
  const found: Entry[] = [];
  const limit = filter ? budget : Infinity;
  let looked = 0;
  const ahead = aheadEntries(storage, filter).filter((e) => isAfter(e.entry, before));
  const start = before ? stepRowAt(storage, before.lastFailedAt) : null;
  const headers = headersFrom(storage, start ?? MAX);
  // From a cursor, later rows may still hold entries dated before it (failures that arrived late).
  let active = start && before ? laterRowsHolding(storage, start, before.lastFailedAt) : [];
  let top = MAX;
  for (;;) {
    const group: Header[] = [];
    for (let entries = 0; headers.peek() && (group.length === 0 || entries < STEP_ENTRIES); ) {
      const h = headers.shift()!;
      group.push(h);
      entries += h.n;
    }
    const next = headers.peek();
    const bound = next?.at ?? MIN;
    const aheadInStep = ahead.filter((e) => e.entry[1] > bound && e.entry[1] <= top);
    const rows = [...group, ...active.filter((h) => h.oldest <= top)];
    const need = want - found.length;
    // Every entry matches without a filter, so `need` of them fill the page.
    const cap = filter ? Math.max(limit - looked - aheadInStep.length, 1) : need;
    const step = rows.length > 0 ? readStep(storage, rows, top, bound, before, filter, cap) : { taken: [], n: 0, cut: null };
    const cut = step.n > cap ? step.cut : null;
    // Ahead-dated entries of the step count only above the cut (the next page starts there).
    const aheadSeen = cut ? aheadInStep.filter((e) => newestFirstOrder(e.entry, cut) < 0) : aheadInStep;
    found.push(...[...step.taken, ...aheadSeen.filter((e) => e.matches).map((e) => e.entry)].sort(newestFirstOrder).slice(0, need));
    if (found.length >= want) return { found, resume: null };
    if (cut) return { found, resume: { lastFailedAt: cut[1], jobId: cut[0] } };
    looked += step.n + aheadSeen.length;
    const last = [...(step.cut ? [step.cut] : []), ...aheadSeen.map((e) => e.entry)].sort(newestFirstOrder).pop();
    const more = next !== undefined || ahead.some((e) => e.entry[1] <= bound);
    if (looked >= limit && last && more) return { found, resume: { lastFailedAt: last[1], jobId: last[0] } };
    if (!next) return { found, resume: null };
    active = [...active, ...group].filter((h) => h.oldest <= bound);
    top = bound;
  }
}

/**
 * One step: the entries still held in `rows`, dated in (bound, top] and after `before`, that
 * match `filter` among the first `cap` of them (newest first); how many the step holds (`n`); and
 * the last one looked at (the cap-th, or the step's last).
 */
function readStep(
  storage: SqlStorage,
  rows: readonly Header[],
  top: number,
  bound: number,
  before: PageCursor | undefined,
  filter: Sql | undefined,
  cap: number,
): { taken: Entry[]; n: number; cut: Entry | null } {
  const which = rows.length <= STEP_ROWS ? sql`r.seq IN ${sql.list(rows.map((h) => h.seq))}` : sql`r.seq >= ${Math.min(...rows.map((h) => h.seq))} AND r.oldest <= ${top}`;
  const position = before
    ? sql` AND (f.last_failed_at < ${before.lastFailedAt} OR (f.last_failed_at = ${before.lastFailedAt} AND f.job_id < ${before.jobId}))`
    : sql``;
  // CROSS JOIN keeps this order: the few rows, their entries, then each failure by its key. An
  // entry dated after its own row's `at` is an ahead-dated one: the ahead list hands it out.
  const found = run<{ job_id: string; last_failed_at: number; m: number; n: number; down: number }>(
    storage,
    sql`SELECT * FROM (
          SELECT f.job_id, f.last_failed_at, ${filter ? sql`(${filter})` : sql.raw("1")} AS m, COUNT(*) OVER () AS n,
            ROW_NUMBER() OVER (ORDER BY f.last_failed_at DESC, f.job_id DESC) AS down
          FROM recent r CROSS JOIN json_each(r.entries) j CROSS JOIN failures f
          WHERE ${which} AND j.value ->> 1 > ${bound} AND j.value ->> 1 <= ${top} AND j.value ->> 1 <= r.at
            AND f.job_id = j.value ->> 0 AND f.last_failed_at = j.value ->> 1${position})
        WHERE (m = 1 AND down <= ${cap}) OR down = MIN(${cap}, n)`,
  ).toArray();
  const n = found[0]?.n ?? 0;
  const cut = found.find((r) => r.down === Math.min(cap, n));
  return {
    taken: found.filter((r) => r.m === 1 && r.down <= cap).map((r): Entry => [r.job_id, r.last_failed_at]),
    n,
    cut: cut ? [cut.job_id, cut.last_failed_at] : null,
  };
}

/** The rows' headers from seq `from` down, read a few at a time. */
function headersFrom(storage: SqlStorage, from: number) {
  const queue: Header[] = [];
  let below = from === MAX ? MAX : from + 1;
  let exhausted = false;
  const fill = () => {
    if (queue.length > 0 || exhausted) return;
    const rows = run<Header>(storage, sql`SELECT seq, at, oldest, n FROM recent WHERE seq < ${below} ORDER BY seq DESC LIMIT ${HEADERS_PER_READ}`).toArray();
    queue.push(...rows);
    exhausted = rows.length < HEADERS_PER_READ;
    below = rows[rows.length - 1]?.seq ?? below;
  };
  return {
    peek: () => (fill(), queue[0]),
    shift: () => (fill(), queue.shift()),
  };
}

/** Rows after `seq` that may hold an entry dated at or before `at`. */
function laterRowsHolding(storage: SqlStorage, seq: number, at: number): Header[] {
  return run<Header>(storage, sql`SELECT seq, at, oldest, n FROM recent WHERE seq > ${seq} AND oldest <= ${at}`).toArray();
}

function newestRow(storage: SqlStorage): Header | null {
  return run<Header>(storage, sql`SELECT seq, at, oldest, n FROM recent ORDER BY seq DESC LIMIT 1`).toArray()[0] ?? null;
}

/** The row whose step holds `at`: the oldest row dated at or after it, or null when every row is older. */
function stepRowAt(storage: SqlStorage, at: number): number | null {
  const below = run<{ seq: number }>(storage, sql`SELECT seq FROM recent WHERE at < ${at} ORDER BY seq DESC LIMIT 1`).toArray()[0]?.seq ?? MIN;
  return run<{ seq: number }>(storage, sql`SELECT seq FROM recent WHERE seq > ${below} ORDER BY seq LIMIT 1`).toArray()[0]?.seq ?? null;
}

/** The ahead list's entries still held, each with whether it matches `filter`. */
function aheadEntries(storage: SqlStorage, filter?: Sql): { entry: Entry; matches: boolean }[] {
  return currentEntries<{ m: number }>(storage, listEntries(storage, orderList.ahead) ?? [], filter ? sql`(${filter}) AS m` : sql.raw("1 AS m"), filter?.params.length ?? 0).map(
    ({ entry, row }) => ({ entry, matches: row.m === 1 }),
  );
}

/**
 * The entries still current (their failure has that last_failed_at), in their order, once per
 * job, each with `columns` read from its failure.
 */
export function currentEntries<T extends object>(storage: SqlStorage, entries: readonly Entry[], columns: Sql, columnParams = 0): { entry: Entry; row: T }[] {
  const held = new Map<string, T & { last_failed_at: number }>();
  for (const chunk of fitting(entries, 1, columnParams)) {
    const rows = run<T & { job_id: string; last_failed_at: number }>(
      storage,
      sql`SELECT job_id, last_failed_at, ${columns} FROM failures WHERE job_id IN ${sql.list(chunk.map((e) => e[0]))}`,
    );
    for (const row of rows) held.set(row.job_id, row);
  }
  const seen = new Set<string>();
  return entries.flatMap((entry) => {
    const row = held.get(entry[0]);
    if (!row || row.last_failed_at !== entry[1] || seen.has(entry[0])) return [];
    seen.add(entry[0]);
    return [{ entry, row }];
  });
}

interface RecentRow {
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
      sql`SELECT seq, oldest, entries FROM recent WHERE seq > ${above} ORDER BY seq LIMIT ${ROWS_PER_READ}`,
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
      sql`UPDATE recent SET oldest = ${Math.min(...entries.map((e) => e[1]))}, n = ${entries.length}, entries = ${JSON.stringify(entries)} WHERE seq = ${seq}`,
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
