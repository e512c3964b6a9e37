// The ledger keeps a bounded hot window. Eviction removes rows, never counts: every evicted
// failure is added to the `evicted` counter, and lifetime counters stay as they were.

import { counterKey } from "./counters";
import { isScheduled, scheduleAt, unschedule } from "./scheduler";

export interface RetentionPolicy {
  maxRows: number;
  maxAgeMs: number;
}

/** Rows evicted per pass, so one pass never holds the object for long. */
const EVICT_CHUNK = 5_000;

function evictOldest(sql: SqlStorage, where: string, params: number[], limit: number): number {
  const evicted = sql
    .exec(
      `DELETE FROM failures WHERE job_id IN (
         SELECT job_id FROM failures ${where} ORDER BY last_failed_at, job_id LIMIT ?) RETURNING job_id`,
      ...params,
      limit,
    )
    .toArray().length;
  if (evicted > 0) {
    sql.exec(
      `INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value`,
      counterKey.evicted,
      evicted,
    );
    sql.exec(`UPDATE counters SET value = value - ? WHERE key = ?`, evicted, counterKey.rows);
  }
  return evicted;
}

function liveRows(sql: SqlStorage): number {
  return sql.exec<{ value: number }>(`SELECT value FROM counters WHERE key = ?`, counterKey.rows).toArray()[0]?.value ?? 0;
}

/**
 * Applies the policy once (bounded work) and keeps the `retention` due-work row pointing at the
 * next moment something will need evicting. Returns how many rows left the ledger.
 */
export function applyRetention(sql: SqlStorage, policy: RetentionPolicy, now: number): number {
  let evicted = 0;
  const excess = liveRows(sql) - policy.maxRows;
  if (excess > 0) evicted += evictOldest(sql, "", [], Math.min(excess, EVICT_CHUNK));
  evicted += evictOldest(sql, "WHERE last_failed_at < ?", [now - policy.maxAgeMs], EVICT_CHUNK);

  const oldest = sql.exec<{ at: number | null }>(`SELECT MIN(last_failed_at) AS at FROM failures`).one().at;
  if (oldest === null) unschedule(sql, "retention", "ledger");
  else {
    const moreNow = liveRows(sql) > policy.maxRows || oldest < now - policy.maxAgeMs;
    scheduleAt(sql, "retention", "ledger", moreNow ? now : oldest + policy.maxAgeMs);
  }
  return evicted;
}

/** After a record: trims inline when over the row bound, otherwise only makes sure a pass is scheduled. */
export function afterRecord(sql: SqlStorage, policy: RetentionPolicy, now: number): void {
  if (liveRows(sql) > policy.maxRows || !isScheduled(sql, "retention", "ledger")) applyRetention(sql, policy, now);
}
