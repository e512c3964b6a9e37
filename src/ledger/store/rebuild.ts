// The order structures rebuilt from the failure rows as they stand, in a few statements: for
// failures written by SQL directly (the read bench copies a million rows in). Rows as the ledger
// writes them: list rows of at most ENTRIES_PER_ROW entries, each dated by its newest failure;
// time-order rows of a record batch's size, dated by a running maximum; entries dated more than
// AHEAD_MS past the clock in the ahead list instead (time-order.ts).

import { ENTRIES_PER_ROW, orderList } from "./order-lists";
import { AHEAD_MS } from "./time-order";
import { run, sql, type Sql } from "../../sql";

/** Entries per time-order row: as many as a batch of record() writes. */
const RECENT_ROW = 100;

// The row sizes are integer divisors, spliced in as text so that n / size stays integer division.
const PER_LIST_ROW = sql.raw(String(ENTRIES_PER_ROW));
const PER_RECENT_ROW = sql.raw(String(RECENT_ROW));

const LISTS_FROM_FAILURES = sql`INSERT INTO order_lists (list, seq, at, entries)
  SELECT list, n / ${PER_LIST_ROW} + 1, MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
  FROM (
    SELECT list, job_id, last_failed_at, ROW_NUMBER() OVER (PARTITION BY list ORDER BY last_failed_at, job_id) - 1 AS n
    FROM (
      SELECT 'g:' || group_fp AS list, job_id, last_failed_at FROM failures
      UNION ALL SELECT 'c:' || class, job_id, last_failed_at FROM failures
      UNION ALL SELECT 's:' || status, job_id, last_failed_at FROM failures
    )
  )
  GROUP BY list, n / ${PER_LIST_ROW}`;

function recentFromFailures(now: number): Sql[] {
  const ahead = now + AHEAD_MS;
  return [
    sql`INSERT INTO recent (seq, at, oldest, n, entries)
     SELECT n / ${PER_RECENT_ROW} + 1, MAX(MIN(last_failed_at, ${ahead})), MIN(last_failed_at), COUNT(*),
       json_group_array(json_array(job_id, last_failed_at))
     FROM (SELECT job_id, last_failed_at, ROW_NUMBER() OVER (ORDER BY last_failed_at, job_id) - 1 AS n FROM failures)
     GROUP BY n / ${PER_RECENT_ROW}`,
    sql`INSERT INTO order_lists (list, seq, at, entries)
     SELECT ${orderList.ahead}, COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = ${orderList.ahead}), 0) + 1,
       MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
     FROM failures WHERE last_failed_at > ${ahead} HAVING COUNT(*) > 0`,
  ];
}

/** The time order and the order lists from the failure rows; the lists' tails are the caller's to clear. */
export function rebuildOrder(storage: SqlStorage, now: number): void {
  run(storage, sql`DELETE FROM order_lists`);
  run(storage, LISTS_FROM_FAILURES);
  run(storage, sql`DELETE FROM recent`);
  for (const statement of recentFromFailures(now)) run(storage, statement);
  run(storage, sql`UPDATE groups SET list_tail = '[]'`);
}
