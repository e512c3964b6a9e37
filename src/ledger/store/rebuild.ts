// The order structures rebuilt from the failure rows as they stand, in a few statements: for
// failures written by SQL directly (the read bench copies a million rows in). Rows as the ledger
// writes them: list rows of at most ENTRIES_PER_ROW entries, each dated by its newest failure;
// time-order rows of a record batch's size, dated by a running maximum; entries dated more than
// AHEAD_MS past the clock in the ahead list instead (time-order.ts).

import { ENTRIES_PER_ROW, orderList } from "./order-lists";
import { AHEAD_MS } from "./time-order";

/** Entries per time-order row: as many as a batch of record() writes. */
const RECENT_ROW = 100;

const LISTS_FROM_FAILURES = `INSERT INTO order_lists (list, seq, at, entries)
  SELECT list, n / ${ENTRIES_PER_ROW} + 1, MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
  FROM (
    SELECT list, job_id, last_failed_at, ROW_NUMBER() OVER (PARTITION BY list ORDER BY last_failed_at, job_id) - 1 AS n
    FROM (
      SELECT 'g:' || group_fp AS list, job_id, last_failed_at FROM failures
      UNION ALL SELECT 'c:' || class, job_id, last_failed_at FROM failures
      UNION ALL SELECT 's:' || status, job_id, last_failed_at FROM failures
    )
  )
  GROUP BY list, n / ${ENTRIES_PER_ROW}`;

function recentFromFailures(now: number): string[] {
  return [
    `INSERT INTO recent (seq, at, oldest, n, entries)
     SELECT n / ${RECENT_ROW} + 1, MAX(MIN(last_failed_at, ${now} + ${AHEAD_MS})), MIN(last_failed_at), COUNT(*),
       json_group_array(json_array(job_id, last_failed_at))
     FROM (SELECT job_id, last_failed_at, ROW_NUMBER() OVER (ORDER BY last_failed_at, job_id) - 1 AS n FROM failures)
     GROUP BY n / ${RECENT_ROW}`,
    `INSERT INTO order_lists (list, seq, at, entries)
     SELECT '${orderList.ahead}', COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = '${orderList.ahead}'), 0) + 1,
       MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
     FROM failures WHERE last_failed_at > ${now} + ${AHEAD_MS} HAVING COUNT(*) > 0`,
  ];
}

/** The time order and the order lists from the failure rows; the lists' tails are the caller's to clear. */
export function rebuildOrder(sql: SqlStorage, now: number): void {
  sql.exec(`DELETE FROM order_lists`);
  sql.exec(LISTS_FROM_FAILURES);
  sql.exec(`DELETE FROM recent`);
  for (const statement of recentFromFailures(now)) sql.exec(statement);
  sql.exec(`UPDATE groups SET list_tail = '[]'`);
}
