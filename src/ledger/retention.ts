// The ledger keeps a bounded hot window. Eviction removes rows, never counts: every evicted
// failure is added to the `evicted` counter, and lifetime counters stay as they were. Only rows
// the outbox has flushed to D1 and R2 may leave.

import { counterKey } from "./aggregates/counters";
import type { Head } from "./head";
import { lowestPendingId } from "./outbox";
import { isScheduled, scheduleAt, unschedule } from "./scheduler";
import { readState, writeState } from "./state";
import type { FailureStore } from "./store";

/** What retention works on: the store, and the head row whose counters it moves (written by the caller). */
export interface Holding {
  sql: SqlStorage;
  head: Head;
  store: FailureStore;
}

export interface RetentionPolicy {
  maxRows: number;
  maxAgeMs: number;
}

/** How soon to look again when eviction waits for the outbox to flush. */
const BLOCKED_RETRY_MS = 60_000;

const liveRows = (head: Head) => head.aggregates.counter(counterKey.rows);

/**
 * Applies the policy once (bounded work) and keeps the `retention` due-work row pointing at the
 * next moment something will need evicting. Returns how many rows left the ledger.
 */
export function applyRetention(held: Holding, policy: RetentionPolicy, now: number): number {
  const storage = held.sql;
  const pending = lowestPendingId(storage);
  const flushedBelow = pending ?? Number.MAX_SAFE_INTEGER;
  const cutoff = now - policy.maxAgeMs;
  const over = liveRows(held.head) - policy.maxRows;
  const evicted = held.store.evictOldest(flushedBelow, cutoff, over);
  held.head.aggregates.addToCounter(counterKey.evicted, evicted);
  held.head.aggregates.addToCounter(counterKey.rows, -evicted);

  const oldest = held.store.oldestHeld();
  if (oldest === null) {
    unschedule(storage, "retention", "ledger");
    if (readState(storage, "retention_blocked_on") !== null) writeState(storage, "retention_blocked_on", null);
    return evicted;
  }
  const owed = liveRows(held.head) > policy.maxRows || oldest < cutoff;
  const blocked = owed && evicted === 0;
  // A failure is due once it is older than the age bound (dated before the cutoff): the first
  // moment the oldest is, not the moment it is exactly maxAgeMs old (a pass then finds nothing
  // and would re-arm at the same time, again and again while the clock reads the same).
  const next = !owed ? oldest + policy.maxAgeMs + 1 : blocked ? now + BLOCKED_RETRY_MS : now;
  scheduleAt(storage, "retention", "ledger", next);
  // Over the row bound and nothing could leave: until the outbox's oldest row is flushed, a
  // record over the bound leaves eviction to the retry.
  const blockedOn = over > 0 && evicted === 0 ? String(pending ?? 0) : null;
  if (readState(storage, "retention_blocked_on") !== blockedOn) writeState(storage, "retention_blocked_on", blockedOn);
  return evicted;
}

/** After a record: trims inline when over the row bound (unless a pass found it blocked on the same unflushed outbox row), else only makes sure a pass is scheduled. */
export function afterRecord(held: Holding, policy: RetentionPolicy, now: number): void {
  const storage = held.sql;
  if (liveRows(held.head) > policy.maxRows) {
    const blockedOn = readState(storage, "retention_blocked_on");
    if (blockedOn === null || Number(blockedOn) !== lowestPendingId(storage)) applyRetention(held, policy, now);
  } else if (!isScheduled(storage, "retention", "ledger")) applyRetention(held, policy, now);
}
