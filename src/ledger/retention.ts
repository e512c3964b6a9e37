// The ledger keeps a bounded hot window. Eviction removes rows, never counts: every evicted
// failure is added to the `evicted` counter, and lifetime counters stay as they were. Only rows
// the outbox has flushed to D1 and R2 may leave.

import { fitting, run, sql } from "../sql";
import { counterKey } from "./counters";
import type { Head } from "./head";
import { PRUNE_STEP_MS, listsPrunedBelow, newestFirstOrder, pruneLists, type Entry } from "./order-lists";
import { currentEntries, firstRowOldest, heldSince, oldestRows, rewriteRow } from "./recent";
import { lowestPendingId } from "./outbox";
import { isScheduled, scheduleAt, unschedule } from "./scheduler";
import { readState, writeState } from "./state";

/** What retention works on: the storage, and the head row whose counters it moves (written by the caller). */
export interface Holding {
  sql: SqlStorage;
  head: Head;
}

export interface RetentionPolicy {
  maxRows: number;
  maxAgeMs: number;
}

/** Rows evicted per pass, so one pass never holds the object for long. */
const EVICT_CHUNK = 5_000;
/** How soon to look again when eviction waits for the outbox to flush. */
const BLOCKED_RETRY_MS = 60_000;

/**
 * Evicts, oldest first in the time order, flushed failures beyond the row bound or dated before
 * `cutoff`, at most EVICT_CHUNK of them. Stops at the first row of the list with nothing older
 * than the cutoff once the row bound holds: a failure that arrived late (dated before failures
 * recorded ahead of it) leaves with the rows before it, not before them.
 */
function evictOldest({ sql: storage, head }: Holding, flushedBelow: number, cutoff: number, over: number): number {
  let evicted = 0;
  let looked = 0;
  for (const row of oldestRows(storage)) {
    if ((over <= 0 && row.oldest >= cutoff) || evicted >= EVICT_CHUNK || looked >= 2 * EVICT_CHUNK) break;
    looked += row.entries.length;
    // the row's failures still held, oldest first
    const held = currentEntries<{ outbox_seq: number }>(storage, row.entries, sql.raw("outbox_seq")).sort((a, b) => newestFirstOrder(b.entry, a.entry));
    const leave: string[] = [];
    const stay: Entry[] = [];
    for (const { entry, row: failure } of held) {
      const due = over > 0 || entry[1] < cutoff;
      if (due && failure.outbox_seq < flushedBelow && evicted + leave.length < EVICT_CHUNK) {
        leave.push(entry[0]);
        over--;
      } else stay.push(entry);
    }
    for (const chunk of fitting(leave, 1)) run(storage, sql`DELETE FROM failures WHERE job_id IN ${sql.list(chunk)}`);
    evicted += leave.length;
    if (stay.length < row.entries.length) rewriteRow(storage, row.seq, stay);
  }
  head.addToCounter(counterKey.evicted, evicted);
  head.addToCounter(counterKey.rows, -evicted);
  return evicted;
}

const liveRows = (head: Head) => head.counter(counterKey.rows);

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
  const evicted = evictOldest(held, flushedBelow, cutoff, over);

  const oldest = firstRowOldest(storage);
  // heldSince scans the list's rows; the first row's `oldest` is an upper bound of it, so a
  // pass that could not prune (see pruneLists) does not pay for the scan.
  if (evicted > 0 && (oldest === null || oldest - listsPrunedBelow(storage) >= PRUNE_STEP_MS)) pruneLists(storage, heldSince(storage));
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
