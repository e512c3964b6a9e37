// Live counters kept incrementally: a change accumulates deltas in memory and writes them at
// commit, so a read never scans the failures table. All counters are one row (counter_totals): a
// change writes one row however many counters it moves (a batch moves some fifteen).

import type { FailureClass, FailureStatus } from "../model";

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

  /** Writes every touched counter once and expires buckets that left the window. */
  apply(sql: SqlStorage, now: number): void {
    addToCounters(sql, this.counters);
    if (this.buckets.size === 0) return;
    const oldest = oldestLiveBucket(now);
    for (const [bucket, count] of this.buckets) {
      if (bucket < oldest) continue;
      sql.exec(
        `INSERT INTO window_buckets (bucket, count) VALUES (?, ?) ON CONFLICT (bucket) DO UPDATE SET count = count + excluded.count`,
        bucket,
        count,
      );
    }
    sql.exec(`DELETE FROM window_buckets WHERE bucket < ?`, oldest);
  }
}

/** Every counter by key. */
export function readCounters(sql: SqlStorage): Map<string, number> {
  const row = sql.exec<{ totals: string }>(`SELECT totals FROM counter_totals WHERE id = 1`).toArray()[0];
  return new Map(Object.entries(row ? (JSON.parse(row.totals) as Record<string, number>) : {}));
}

/** The one write of the counters: adds each delta to its counter, in one row write. */
export function addToCounters(sql: SqlStorage, deltas: Iterable<readonly [key: string, delta: number]>): void {
  let totals: Map<string, number> | null = null;
  for (const [key, delta] of deltas) {
    if (delta === 0) continue;
    totals ??= readCounters(sql);
    totals.set(key, (totals.get(key) ?? 0) + delta);
  }
  if (!totals) return;
  sql.exec(
    `INSERT INTO counter_totals (id, totals) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET totals = excluded.totals`,
    JSON.stringify(Object.fromEntries(totals)),
  );
}

export function readCounter(sql: SqlStorage, key: string): number {
  return readCounters(sql).get(key) ?? 0;
}

export function oldestLiveBucket(now: number): number {
  return Math.floor((now - WINDOW_MS) / BUCKET_MS) + 1;
}
