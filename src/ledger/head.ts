// The ledger's head row: the state nearly every change moves, kept in one row so that a change
// writes one row for all of it. It holds the counters, the 24 h window's 5-minute buckets, the
// last hour's occurrences per minute (rate alerts), the newest entries of the class, status and
// ahead order lists (see order-lists.ts) and the next outbox id.
//
// A change reads the row once, on first use, and writes it once, last thing at commit.

import type { Entry } from "./order-lists";

type HeadRow = { totals: string; day_buckets: string; minute_counts: string; list_tails: string; outbox_next: number };

const numbers = (json: string) => new Map(Object.entries(JSON.parse(json) as Record<string, number>).map(([k, v]) => [Number(k), v]));

export class Head {
  private touched = false;

  private constructor(
    private readonly sql: SqlStorage,
    /** counter → value (counters.ts) */
    readonly totals: Map<string, number>,
    /** 5-minute bucket → occurrences in it, for the 24 h window */
    readonly dayBuckets: Map<number, number>,
    /** minute → occurrences in it, the last hour only */
    readonly minuteCounts: Map<number, number>,
    /** order list → its entries not yet in an order_lists row */
    readonly listTails: Map<string, Entry[]>,
    private nextOutboxId: number,
  ) {}

  static read(sql: SqlStorage): Head {
    const row = sql.exec<HeadRow>(`SELECT totals, day_buckets, minute_counts, list_tails, outbox_next FROM ledger_head WHERE id = 1`).one();
    return new Head(
      sql,
      new Map(Object.entries(JSON.parse(row.totals) as Record<string, number>)),
      numbers(row.day_buckets),
      numbers(row.minute_counts),
      new Map(Object.entries(JSON.parse(row.list_tails) as Record<string, Entry[]>)),
      row.outbox_next,
    );
  }

  /** Marks the row to be written: every change of a field goes through a method or calls this. */
  touch(): this {
    this.touched = true;
    return this;
  }

  counter(key: string): number {
    return this.totals.get(key) ?? 0;
  }

  addToCounter(key: string, delta: number): void {
    if (delta === 0) return;
    this.totals.set(key, this.counter(key) + delta);
    this.touch();
  }

  /** `count` outbox ids, the first of them returned. */
  reserveOutboxIds(count: number): number {
    const first = this.nextOutboxId;
    this.nextOutboxId += count;
    this.touch();
    return first;
  }

  /** The one write, if anything changed. */
  save(): void {
    if (!this.touched) return;
    this.sql.exec(
      `UPDATE ledger_head SET totals = ?, day_buckets = ?, minute_counts = ?, list_tails = ?, outbox_next = ? WHERE id = 1`,
      JSON.stringify(Object.fromEntries(this.totals)),
      JSON.stringify(Object.fromEntries(this.dayBuckets)),
      JSON.stringify(Object.fromEntries(this.minuteCounts)),
      JSON.stringify(Object.fromEntries(this.listTails)),
      this.nextOutboxId,
    );
    this.touched = false;
  }
}
