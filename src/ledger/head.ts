// The ledger's head row: the state nearly every change moves, kept in one row so that a change
// writes one row for all of it. It is shared storage, not shared state: each part has one owner,
// who reads and changes it only through that part's methods.
//
//   counters, the 24 h window's 5-minute buckets, the last hour's minute counts → aggregates/
//   the newest entries of the class, status and ahead order lists              → store/
//   the next outbox id                                                          → outbox.ts
//
// A change reads the row once, on first use, and writes it once, last thing at commit.

import { run, sql } from "../sql";

/** [job id, its last_failed_at]: an order-list entry as the store keeps it. */
export type TailEntry = [string, number];

type HeadRow = { totals: string; day_buckets: string; minute_counts: string; list_tails: string; outbox_next: number };

const numbers = (json: string) => new Map(Object.entries(JSON.parse(json) as Record<string, number>).map(([k, v]) => [Number(k), v]));

export class Head {
  private touched = false;
  /** The aggregates' part: counters and the two short time windows. */
  readonly aggregates: AggregatesPart;
  /** The store's part: list tails. */
  readonly tails: TailsPart;
  /** The outbox's part: its id sequence. */
  readonly outbox: OutboxPart;

  private constructor(
    private readonly storage: SqlStorage,
    totals: Map<string, number>,
    dayBuckets: Map<number, number>,
    minuteCounts: Map<number, number>,
    listTails: Map<string, TailEntry[]>,
    outboxNext: number,
  ) {
    const touch = () => {
      this.touched = true;
    };
    this.aggregates = new AggregatesPart(totals, dayBuckets, minuteCounts, touch);
    this.tails = new TailsPart(listTails, touch);
    this.outbox = new OutboxPart(outboxNext, touch);
  }

  static read(storage: SqlStorage): Head {
    const row = run<HeadRow>(storage, sql`SELECT totals, day_buckets, minute_counts, list_tails, outbox_next FROM ledger_head WHERE id = 1`).one();
    return new Head(
      storage,
      new Map(Object.entries(JSON.parse(row.totals) as Record<string, number>)),
      numbers(row.day_buckets),
      numbers(row.minute_counts),
      new Map(Object.entries(JSON.parse(row.list_tails) as Record<string, TailEntry[]>)),
      row.outbox_next,
    );
  }

  /** The one write, if any part changed. */
  save(): void {
    if (!this.touched) return;
    const a = this.aggregates.snapshot();
    run(
      this.storage,
      sql`UPDATE ledger_head SET totals = ${JSON.stringify(Object.fromEntries(a.totals))},
        day_buckets = ${JSON.stringify(Object.fromEntries(a.dayBuckets))},
        minute_counts = ${JSON.stringify(Object.fromEntries(a.minuteCounts))},
        list_tails = ${JSON.stringify(Object.fromEntries(this.tails.snapshot()))},
        outbox_next = ${this.outbox.next}
      WHERE id = 1`,
    );
    this.touched = false;
  }
}

export class AggregatesPart {
  constructor(
    private readonly totals: Map<string, number>,
    private readonly dayBuckets: Map<number, number>,
    private readonly minuteCounts: Map<number, number>,
    private readonly touch: () => void,
  ) {}

  counter(key: string): number {
    return this.totals.get(key) ?? 0;
  }

  addToCounter(key: string, delta: number): void {
    if (delta === 0) return;
    this.totals.set(key, this.counter(key) + delta);
    this.touch();
  }

  /** Adds `count` to a 5-minute bucket of the 24 h window, and forgets buckets before `oldest`. */
  addToDayBucket(bucket: number, count: number, oldest: number): void {
    if (bucket >= oldest) this.dayBuckets.set(bucket, (this.dayBuckets.get(bucket) ?? 0) + count);
    for (const b of this.dayBuckets.keys()) if (b < oldest) this.dayBuckets.delete(b);
    this.touch();
  }

  /** Adds `count` to a minute's count, forgets minutes before `oldest`; returns the minute's count before and after. */
  addToMinute(minute: number, count: number, oldest: number): { before: number; after: number } {
    const before = this.minuteCounts.get(minute) ?? 0;
    this.minuteCounts.set(minute, before + count);
    for (const m of this.minuteCounts.keys()) if (m < oldest) this.minuteCounts.delete(m);
    this.touch();
    return { before, after: before + count };
  }

  snapshot(): { totals: ReadonlyMap<string, number>; dayBuckets: ReadonlyMap<number, number>; minuteCounts: ReadonlyMap<number, number> } {
    return { totals: this.totals, dayBuckets: this.dayBuckets, minuteCounts: this.minuteCounts };
  }
}

export class TailsPart {
  constructor(
    private readonly tails: Map<string, TailEntry[]>,
    private readonly touch: () => void,
  ) {}

  get(list: string): readonly TailEntry[] {
    return this.tails.get(list) ?? [];
  }

  set(list: string, entries: TailEntry[]): void {
    if (entries.length > 0) this.tails.set(list, entries);
    else this.tails.delete(list);
    this.touch();
  }

  clear(): void {
    this.tails.clear();
    this.touch();
  }

  snapshot(): ReadonlyMap<string, TailEntry[]> {
    return this.tails;
  }
}

export class OutboxPart {
  constructor(
    private nextId: number,
    private readonly touch: () => void,
  ) {}

  get next(): number {
    return this.nextId;
  }

  /** `count` ids, the first of them returned. */
  reserve(count: number): number {
    const first = this.nextId;
    this.nextId += count;
    this.touch();
    return first;
  }
}
