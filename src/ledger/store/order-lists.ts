// Append-only lists per group, class and status of [job id, last_failed_at] entries, so a page
// filtered by one of them reads its few candidates directly, newest first, instead of scanning
// the newest 10,000 failures.
//
// Entries go stale (the job failed again later, or into another group, or changed status): a
// read takes candidates newest first and keeps one only if its failure row still has that
// last_failed_at and matches the filter, so a stale entry is simply skipped. Each row's `at` is at
// least the last_failed_at of every entry in it; the entry that put a failure where it is now
// carries its current last_failed_at, so pruning rows older than the oldest failure held never
// drops an entry that still matters.
//
// A list's newest entries ride in a row the change writes anyway, until TAIL_ENTRIES of them
// spill into one list row: a group's in its `groups` row (every batch touching the group writes
// it), the class, status and ahead lists' in the head row (head.ts). So a change pays no list row
// for the lists it appends to, only one per TAIL_ENTRIES entries.

import type { FailureClass, FailureStatus } from "../../model";
import { fitting, run, sql } from "../../sql";
import type { TailsPart } from "../head";
import { isAfter, newestFirstOrder, type Entry, type PageCursor } from "./cursor";
import { readState, writeState } from "../state";

export const orderList = {
  group: (fingerprint: string) => `g:${fingerprint}`,
  class: (c: FailureClass) => `c:${c}`,
  status: (s: FailureStatus) => `s:${s}`,
  /** failures dated ahead of the ledger's clock when recorded (see time-order.ts) */
  ahead: "a:ahead",
};

/** Entries per list row: far below the 2 MB row limit. */
export const ENTRIES_PER_ROW = 1_000;
/** A list's tail spills into a list row once it holds this many entries. */
export const TAIL_ENTRIES = 100;
/** Pruning scans the lists: do it once per this much failure time evicted, not per pass. */
export const PRUNE_STEP_MS = 3600_000;



/** The lists one change appends to. */
export class ListAppends {
  private readonly lists = new Map<string, Map<string, number>>();

  /** `tailEntries`: a tail spills into a list row once it holds this many (1: no tails, a row per change). */
  constructor(readonly tailEntries = TAIL_ENTRIES) {}

  /** These held jobs, at their current last_failed_at (a status change outside record()). */
  addHeld(storage: SqlStorage, list: string, jobIds: readonly string[]): void {
    for (const chunk of fitting(jobIds, 1)) {
      for (const r of run<{ job_id: string; last_failed_at: number }>(storage, sql`SELECT job_id, last_failed_at FROM failures WHERE job_id IN ${sql.list(chunk)}`)) {
        this.add(list, r.job_id, r.last_failed_at);
      }
    }
  }

  get empty(): boolean {
    return this.lists.size === 0;
  }

  /** The entries gathered for `list`, which this change will no longer write itself. */
  take(list: string): Entry[] {
    const entries = this.lists.get(list);
    this.lists.delete(list);
    return entries ? [...entries] : [];
  }

  add(list: string, jobId: string, lastFailedAt: number): void {
    const entries = this.lists.get(list) ?? new Map<string, number>();
    entries.set(jobId, lastFailedAt);
    this.lists.set(list, entries);
  }

  /** Into the lists' tails in the head row; a tail that is full spills into a list row. */
  write(storage: SqlStorage, tails: TailsPart, now: number): void {
    for (const [list, entries] of this.lists) {
      // a group's entries left here are its tail spilling (nextGroupTail)
      if (groupOf(list) !== null) {
        append(storage, list, [...entries], now);
        continue;
      }
      const { keep, spill } = grown(tails.get(list), entries, this.tailEntries);
      append(storage, list, spill, now);
      tails.set(list, keep);
    }
    this.lists.clear();
  }
}

/**
 * A tail with new entries, once per job (the new entry wins: it is never older): the tail to
 * keep, or none and the entries to spill into a list row once there are TAIL_ENTRIES of them.
 */
function grown(tail: readonly Entry[], entries: Iterable<Entry>, tailEntries: number): { keep: Entry[]; spill: Entry[] } {
  const all = [...new Map([...tail, ...entries])];
  return all.length < tailEntries ? { keep: all, spill: [] } : { keep: [], spill: all };
}

function append(storage: SqlStorage, list: string, entries: readonly Entry[], now: number): void {
  for (let i = 0; i < entries.length; i += ENTRIES_PER_ROW) {
    const part = entries.slice(i, i + ENTRIES_PER_ROW);
    const at = Math.max(now, ...part.map((e) => e[1]));
    run(
      storage,
      sql`INSERT INTO order_lists (list, seq, at, entries)
          SELECT ${list}, COALESCE(MAX(seq), 0) + 1, ${at}, ${JSON.stringify(part)}
          FROM order_lists WHERE list = ${list}`,
    );
  }
}

/**
 * A group's tail after this change: the tail it had and the change's new entries for its list,
 * or none once they are enough to spill into a list row (the change writes it at commit).
 */
export function nextGroupTail(lists: ListAppends, fingerprint: string, stored: readonly Entry[]): string {
  const list = orderList.group(fingerprint);
  const { keep, spill } = grown(stored, lists.take(list), lists.tailEntries);
  for (const [jobId, at] of spill) lists.add(list, jobId, at);
  return JSON.stringify(keep);
}

const groupOf = (list: string) => (list.startsWith("g:") ? list.slice(2) : null);

/**
 * The entries one page reads from a list at most. A longer list is mostly stale (a status jobs
 * pass through gets an entry on every occurrence while few hold it at once): the page walks the
 * time order instead, within its scan budget.
 */
export const MAX_LIST_ENTRIES = 20_000;


/**
 * A list's entries after `before` (if given), newest first: stale ones included, duplicates not.
 * Null when the list holds more than `max` entries: its rows are read newest first, so finding
 * that out costs no more than `max` entries read.
 */
export function listEntries(storage: SqlStorage, list: string, before?: PageCursor, max = Number.POSITIVE_INFINITY): Entry[] | null {
  const group = groupOf(list);
  const tail = run<{ entries: string | null }>(
    storage,
    group === null
      ? sql`SELECT list_tails -> ${`$."${list}"`} AS entries FROM ledger_head WHERE id = 1`
      : sql`SELECT list_tail AS entries FROM groups WHERE fingerprint = ${group}`,
  ).toArray()[0]?.entries;
  const all = new Map<string, Entry>();
  let read = 0;
  const take = (json: string | null | undefined) => {
    const entries = json ? (JSON.parse(json) as Entry[]) : [];
    read += entries.length;
    for (const e of entries) if (isAfter(e, before)) all.set(`${e[1]} ${e[0]}`, e);
  };
  take(tail);
  for (const row of run<{ entries: string }>(storage, sql`SELECT entries FROM order_lists WHERE list = ${list} ORDER BY seq DESC`)) {
    if (read > max) break;
    take(row.entries);
  }
  return read > max ? null : [...all.values()].sort(newestFirstOrder);
}

export const listsPrunedBelow = (storage: SqlStorage) => Number(readState(storage, "order_lists_pruned_below") ?? 0);

/** Drops list rows older than every failure still held (see the top of this file). */
export function pruneLists(storage: SqlStorage, oldestHeld: number | null): void {
  const below = oldestHeld ?? Number.MAX_SAFE_INTEGER;
  if (below - listsPrunedBelow(storage) < PRUNE_STEP_MS) return;
  run(storage, sql`DELETE FROM order_lists WHERE at < ${below}`);
  writeState(storage, "order_lists_pruned_below", String(below));
}
