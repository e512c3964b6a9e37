// The ledger keeps a bounded hot window. Eviction removes rows, never counts: every evicted
// failure is added to the `evicted` counter, and lifetime counters stay as they were. Only rows
// the outbox has flushed to D1 and R2 may leave.

import { run, sql } from "../sql";
import { addToCounters, counterKey, readCounter } from "./counters";
import { pruneLists } from "./order-lists";
import { lowestPendingId } from "./outbox";
import { isScheduled, scheduleAt, unschedule } from "./scheduler";

export interface RetentionPolicy {
  maxRows: number;
  maxAgeMs: number;
}

/** Rows evicted per pass, so one pass never holds the object for long. */
const EVICT_CHUNK = 5_000;
/** How soon to look again when eviction waits for the outbox to flush. */
const BLOCKED_RETRY_MS = 60_000;

function evictOldest(storage: SqlStorage, flushedBelow: number, olderThan: number, limit: number): number {
  if (limit <= 0) return 0;
  const evicted = run(
    storage,
    sql`DELETE FROM failures WHERE job_id IN (
          SELECT job_id FROM failures WHERE last_failed_at < ${olderThan} AND outbox_seq < ${flushedBelow}
          ORDER BY last_failed_at, job_id LIMIT ${limit}) RETURNING job_id`,
  ).toArray().length;
  addToCounters(storage, [
    [counterKey.evicted, evicted],
    [counterKey.rows, -evicted],
  ]);
  return evicted;
}

const liveRows = (storage: SqlStorage) => readCounter(storage, counterKey.rows);

/**
 * Applies the policy once (bounded work) and keeps the `retention` due-work row pointing at the
 * next moment something will need evicting. Returns how many rows left the ledger.
 */
export function applyRetention(storage: SqlStorage, policy: RetentionPolicy, now: number): number {
  const flushedBelow = lowestPendingId(storage) ?? Number.MAX_SAFE_INTEGER;
  const cutoff = now - policy.maxAgeMs;
  let evicted = evictOldest(storage, flushedBelow, Number.MAX_SAFE_INTEGER, Math.min(liveRows(storage) - policy.maxRows, EVICT_CHUNK));
  evicted += evictOldest(storage, flushedBelow, cutoff, EVICT_CHUNK);

  const oldest = run<{ at: number | null }>(storage, sql`SELECT MIN(last_failed_at) AS at FROM failures`).one().at;
  if (evicted > 0) pruneLists(storage, oldest);
  if (oldest === null) {
    unschedule(storage, "retention", "ledger");
    return evicted;
  }
  const owed = liveRows(storage) > policy.maxRows || oldest < cutoff;
  const next = !owed ? oldest + policy.maxAgeMs : evicted > 0 ? now : now + BLOCKED_RETRY_MS;
  scheduleAt(storage, "retention", "ledger", next);
  return evicted;
}

/** After a record: trims inline when over the row bound, otherwise only makes sure a pass is scheduled. */
export function afterRecord(storage: SqlStorage, policy: RetentionPolicy, now: number): void {
  if (liveRows(storage) > policy.maxRows || !isScheduled(storage, "retention", "ledger")) applyRetention(storage, policy, now);
}
