// The read bench's bulk fill of the ledger's lists (bench/worker.ts fillCopies): after a million
// rows are copied in by SQL, the order lists and the time order are rebuilt from the failures in
// a few statements instead of through record(). Rows as the ledger writes them: list rows of at
// most 1,000 entries (order-lists.ts), time-order rows dated by a running maximum, entries dated
// more than 5 minutes past the clock in the ahead list instead (recent.ts).

import { orderList } from "../src/ledger/order-lists";

/** Entries per order-list row, as order-lists.ts spills them at most. */
const LIST_ROW = 1_000;
/** Entries per time-order row: as many as a batch of record() writes. */
const RECENT_ROW = 100;
/** recent.ts's AHEAD_MS: a failure dated further past the clock does not date its row. */
const AHEAD_MS = 5 * 60_000;

/** Fills the group, class and status lists (orderList's g:, c:, s:) from the failures held, each row dated by its newest failure. */
export const LISTS_FROM_FAILURES = `INSERT INTO order_lists (list, seq, at, entries)
  SELECT list, n / ${LIST_ROW} + 1, MAX(last_failed_at), json_group_array(json_array(job_id, last_failed_at))
  FROM (
    SELECT list, job_id, last_failed_at, ROW_NUMBER() OVER (PARTITION BY list ORDER BY last_failed_at, job_id) - 1 AS n
    FROM (
      SELECT 'g:' || group_fp AS list, job_id, last_failed_at FROM failures
      UNION ALL SELECT 'c:' || class, job_id, last_failed_at FROM failures
      UNION ALL SELECT 's:' || status, job_id, last_failed_at FROM failures
    )
  )
  GROUP BY list, n / ${LIST_ROW}`;

/** Fills the time order from the failures held, oldest first, and the ahead list; `now` is the ledger's clock. */
export function recentFromFailures(now: number): string[] {
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
