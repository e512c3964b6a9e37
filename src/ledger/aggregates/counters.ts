// The ledger's aggregates: live counters kept incrementally, the 24 h window's 5-minute buckets
// and the last hour's occurrences per minute (rate alerts), all in the head row's aggregates part,
// and the longer series (series.ts). A change accumulates deltas in memory and adds them at
// commit, so a read never scans the failures table and a change writes one row however many
// counters it moves (a batch moves some fifteen).

import type { FailureClass, FailureStatus } from "../../model";
import type { AggregatesPart } from "../head";
import { run, sql } from "../../sql";

export const WINDOW_MS = 24 * 60 * 60 * 1000;
/** The rolling 24 h window is kept in 5-minute buckets. */
export const BUCKET_MS = 5 * 60 * 1000;

export const counterKey = {
  total: "total",
  occurrences: "occurrences",
  attemptsSum: "attempts_sum",
  groups: "groups",
  rows: "rows",
  evicted: "evicted",
  duplicates: "duplicates",
  batches: "batches",
  refailures: "refailures",
  exhausted: "exhausted_total",
  poison: "poison",
  retriesSent: "retries_sent",
  resends: "resends",
  sendFailures: "send_failures",
  recovered: "recovered_total",
  presumed: "presumed_total",
  manualRequeues: "manual_requeues",
  abandoned: "abandoned_total",
  operationItems: "operation_items",
  noticesSent: "notices_sent",
  noticesSuppressed: "notices_suppressed",
  digests: "digests",
  alerts: "alerts",
  deliveriesSent: "deliveries_sent",
  deliveryFailures: "delivery_failures",
  deliveriesDropped: "deliveries_dropped",
  flushes: "flushes",
  archivedOccurrences: "archived_occurrences",
  segments: "segments",
  d1RowsWritten: "d1_rows_written",
  d1Evicted: "d1_evicted",
  byClass: (c: FailureClass) => `class:${c}`,
  byStatus: (s: FailureStatus) => `status:${s}`,
  byQueue: (q: string) => `queue:${q}`,
};

export class CounterDeltas {
  private readonly counters = new Map<string, number>();
  private readonly buckets = new Map<number, number>();

  get empty(): boolean {
    return this.counters.size === 0 && this.buckets.size === 0;
  }

  add(key: string, delta: number): void {
    if (delta !== 0) this.counters.set(key, (this.counters.get(key) ?? 0) + delta);
  }

  move(from: string, to: string): void {
    if (from === to) return;
    this.add(from, -1);
    this.add(to, 1);
  }

  occurrenceAt(time: number): void {
    const bucket = Math.floor(time / BUCKET_MS);
    this.buckets.set(bucket, (this.buckets.get(bucket) ?? 0) + 1);
  }

  /** Adds every delta to the counters and window buckets, expiring the buckets that left the window. */
  applyTo(aggregates: AggregatesPart, now: number): void {
    for (const [key, delta] of this.counters) aggregates.addToCounter(key, delta);
    const oldest = oldestLiveBucket(now);
    // A failure dated ahead of the clock counts in the bucket of now: the row keeps at most a day of buckets.
    const current = Math.floor(now / BUCKET_MS);
    for (const [dated, count] of this.buckets) aggregates.addToDayBucket(Math.min(dated, current), count, oldest);
  }
}

/** Every counter by key. */
export function readCounters(storage: SqlStorage): Map<string, number> {
  const row = run<{ totals: string }>(storage, sql`SELECT totals FROM ledger_head WHERE id = 1`).one();
  return new Map(Object.entries(JSON.parse(row.totals) as Record<string, number>));
}

/** Occurrences in the 24 h window ending `now`. */
export function occurrencesInWindow(storage: SqlStorage, now: number): number {
  const row = run<{ day_buckets: string }>(storage, sql`SELECT day_buckets FROM ledger_head WHERE id = 1`).one();
  const oldest = oldestLiveBucket(now);
  return Object.entries(JSON.parse(row.day_buckets) as Record<string, number>).reduce((n, [bucket, count]) => (Number(bucket) >= oldest ? n + count : n), 0);
}


/**
 * Counts `count` occurrences in the current minute (the last hour is kept): the minute's count
 * before and after, for the rate alerts' tiers.
 */
export function countThisMinute(aggregates: AggregatesPart, now: number, count: number): { before: number; after: number } {
  const minute = Math.floor(now / 60_000);
  return aggregates.addToMinute(minute, count, minute - 60);
}

function oldestLiveBucket(now: number): number {
  return Math.floor((now - WINDOW_MS) / BUCKET_MS) + 1;
}
