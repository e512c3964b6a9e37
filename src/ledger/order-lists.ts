// Append-only lists of job ids per group, class and status, so a page filtered by one of them
// reads its few candidates directly instead of scanning the newest 10,000 failures. A record()
// writes one row per list it touches (not one per failure); a status change writes one row.
//
// Entries go stale (the job failed again later into another group, or changed status): a read
// checks every candidate against its failure row, so a stale entry is simply not matched. Each
// row's `at` is at least the last_failed_at of every failure it names, as it was when written; the
// entry a failure's current group, class or status came from was written then, so pruning rows
// older than the oldest failure held never drops an entry that still matters.

import type { FailureClass, FailureStatus } from "../model";
import { fitting, run, sql, type Sql } from "../sql";
import { readState, writeState } from "./state";

export const orderList = {
  group: (fingerprint: string) => `g:${fingerprint}`,
  class: (c: FailureClass) => `c:${c}`,
  status: (s: FailureStatus) => `s:${s}`,
};

/** Job ids per list row: far below the 2 MB row limit. */
const IDS_PER_ROW = 1_000;
/** Pruning scans the lists: do it once per this much failure time evicted, not per pass. */
const PRUNE_STEP_MS = 3600_000;

/** Fills the lists from the failures held, IDS_PER_ROW ids a row, each row dated by its newest failure. */
export const LISTS_FROM_FAILURES = `INSERT INTO order_lists (list, seq, at, job_ids)
  SELECT list, n / ${IDS_PER_ROW} + 1, MAX(last_failed_at), json_group_array(job_id)
  FROM (
    SELECT list, job_id, last_failed_at, ROW_NUMBER() OVER (PARTITION BY list ORDER BY last_failed_at, job_id) - 1 AS n
    FROM (
      SELECT 'g:' || group_fp AS list, job_id, last_failed_at FROM failures
      UNION ALL SELECT 'c:' || class, job_id, last_failed_at FROM failures
      UNION ALL SELECT 's:' || status, job_id, last_failed_at FROM failures
    )
  )
  GROUP BY list, n / ${IDS_PER_ROW}`;

/** The lists one record() batch appends to. */
export class ListAppends {
  private readonly lists = new Map<string, { ids: Set<string>; at: number }>();

  add(list: string, jobId: string, lastFailedAt: number): void {
    const entry = this.lists.get(list);
    if (entry) {
      entry.ids.add(jobId);
      entry.at = Math.max(entry.at, lastFailedAt);
    } else {
      this.lists.set(list, { ids: new Set([jobId]), at: lastFailedAt });
    }
  }

  /** One row per list (or per IDS_PER_ROW ids of it). */
  write(storage: SqlStorage, now: number): void {
    for (const [list, { ids, at }] of this.lists) append(storage, list, [...ids], Math.max(at, now));
  }
}

function append(storage: SqlStorage, list: string, jobIds: readonly string[], at: number | Sql): void {
  for (let i = 0; i < jobIds.length; i += IDS_PER_ROW) {
    run(
      storage,
      sql`INSERT INTO order_lists (list, seq, at, job_ids)
          SELECT ${list}, COALESCE(MAX(seq), 0) + 1, ${at}, ${JSON.stringify(jobIds.slice(i, i + IDS_PER_ROW))}
          FROM order_lists WHERE list = ${list}`,
    );
  }
}

/** These jobs now have `status`: call wherever a status changes outside record(). */
export function statusChanged(storage: SqlStorage, jobIds: readonly string[], status: FailureStatus): void {
  for (const chunk of fitting(jobIds, 1, 2)) {
    const at = sql`(SELECT COALESCE(MAX(last_failed_at), 0) FROM failures WHERE job_id IN ${sql.list(chunk)})`;
    append(storage, orderList.status(status), chunk, at);
  }
}

/**
 * The failures a list names (stale entries included: the caller's terms must check the row),
 * read by job id from the list, never by a scan of the failures.
 */
export function listedFailures(list: string): Sql {
  // CROSS JOIN keeps the list as the outer loop: SQLite must not walk the failures instead.
  return sql`SELECT f.* FROM (SELECT DISTINCT j.value AS job_id FROM order_lists o, json_each(o.job_ids) j WHERE o.list = ${list}) m
             CROSS JOIN failures f ON f.job_id = m.job_id`;
}

/** Drops list rows older than every failure still held (see the top of this file). */
export function pruneLists(storage: SqlStorage, oldestHeld: number | null): void {
  const below = oldestHeld ?? Number.MAX_SAFE_INTEGER;
  const prunedBelow = Number(readState(storage, "order_lists_pruned_below") ?? 0);
  if (below - prunedBelow < PRUNE_STEP_MS) return;
  run(storage, sql`DELETE FROM order_lists WHERE at < ${below}`);
  writeState(storage, "order_lists_pruned_below", String(below));
}
