// Retention's side of the store: the held failures leave oldest first in the time order, and the
// order lists' rows older than every failure still held go with them (see order-lists.ts).

import { fitting, run, sql } from "../../sql";
import { newestFirstOrder, type Entry } from "./cursor";
import { PRUNE_STEP_MS, listsPrunedBelow, pruneLists } from "./order-lists";
import { currentEntries, firstRowOldest, heldSince, oldestRows, rewriteRow } from "./time-order";

/** Rows evicted per pass, so one pass never holds the object for long. */
const EVICT_CHUNK = 5_000;

/**
 * Evicts, oldest first in the time order, failures whose state the outbox has flushed (every row
 * below `flushedBelow`) beyond the row bound (`over` of them) or dated before `cutoff`, at most
 * EVICT_CHUNK of them. Stops at the first row of the list with nothing older than the cutoff once
 * the row bound holds: a failure that arrived late (dated before failures recorded ahead of it)
 * leaves with the rows before it, not before them. Returns how many left.
 */
export function evictOldest(storage: SqlStorage, flushedBelow: number, cutoff: number, over: number): number {
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
  if (evicted > 0) pruneAfterEviction(storage);
  return evicted;
}

function pruneAfterEviction(storage: SqlStorage): void {
  const oldest = firstRowOldest(storage);
  // heldSince scans the list's rows; the first row's `oldest` is an upper bound of it, so a
  // pass that could not prune (see pruneLists) does not pay for the scan.
  if (oldest === null || oldest - listsPrunedBelow(storage) >= PRUNE_STEP_MS) pruneLists(storage, heldSince(storage));
}

/** The failure time of the oldest failure held, or a little earlier; null when none is held. */
export const oldestHeld = (storage: SqlStorage): number | null => firstRowOldest(storage);
