// Failures over time, per tenant and per group: per minute for the last hour, per hour for the
// last 24 h, per day for the last 14 days. Counted when the outbox flushes (one row per touched
// scope and minute per flush, never per failure), by the time the ledger recorded each failure.
//
// Each scope keeps three rings of buckets (minutes, hours, days) in `series`, a slot per bucket
// number modulo the ring's size: a newer bucket overwrites the slot in place, so nothing is ever
// deleted and a scope holds at most 208 rows. Only minutes are written by flushes; a complete
// hour is rolled up from its minutes, and a complete day from its hours, by the first flush after
// it ends (`series_rollup` keeps the first hour and day not yet rolled up). A late failure (a
// flush delayed past the hour) is counted in its hour, or its day, directly.

import type { ArchivedOccurrence } from "../../model";
import { fitting, run, sql } from "../../sql";

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;

/** The tenant's own scope; a group's scope is its fingerprint. */
export const TENANT_SCOPE = "*";

type Unit = "m" | "h" | "d";
/** Ring sizes: each holds the buckets it serves and those not yet rolled up into the next. */
const SLOTS: Record<Unit, number> = { m: 120, h: 72, d: 16 };

export const SERIES_LENGTHS = { minutes: 60, hours: 24, days: 14 } as const;

function add(storage: SqlStorage, scope: string, unit: Unit, at: number, count: number): void {
  run(
    storage,
    sql`INSERT INTO series (scope, unit, slot, at, count) VALUES (${scope}, ${unit}, ${at % SLOTS[unit]}, ${at}, ${count})
        ON CONFLICT (scope, unit, slot) DO UPDATE SET
          count = CASE WHEN at = excluded.at THEN count + excluded.count ELSE excluded.count END,
          at = excluded.at
        WHERE excluded.at >= at`,
  );
}

function rolledBelow(storage: SqlStorage, unit: "h" | "d"): number | null {
  return run<{ below: number }>(storage, sql`SELECT below FROM series_rollup WHERE unit = ${unit}`).toArray()[0]?.below ?? null;
}

function setRolledBelow(storage: SqlStorage, unit: "h" | "d", below: number): void {
  run(storage, sql`INSERT INTO series_rollup (unit, below) VALUES (${unit}, ${below}) ON CONFLICT (unit) DO UPDATE SET below = excluded.below`);
}

/** Rolls complete hours up from their minutes and complete days up from their hours. */
function rollUp(storage: SqlStorage, hour: number, day: number): void {
  rollInto(storage, { from: "m", to: "h", per: 60, below: hour });
  rollInto(storage, { from: "h", to: "d", per: 24, below: day });
}

/** Sums the complete `to` buckets below `below` from their `per` buckets of unit `from`, once. */
function rollInto(storage: SqlStorage, r: { from: "m" | "h"; to: "h" | "d"; per: number; below: number }): void {
  const rolled = rolledBelow(storage, r.to);
  if (rolled !== null && rolled < r.below) {
    for (const row of run<{ scope: string; slot: number; n: number }>(
      storage,
      // an integer in the text: a bound number is a REAL, and the slot must come out whole
      sql`SELECT scope, at / ${sql.raw(String(r.per))} AS slot, SUM(count) AS n FROM series
          WHERE unit = ${r.from} AND at >= ${rolled * r.per} AND at < ${r.below * r.per} GROUP BY scope, slot`,
    ).toArray()) {
      add(storage, row.scope, r.to, row.slot, row.n);
    }
  }
  if (rolled !== r.below) setRolledBelow(storage, r.to, r.below);
}

/** Counts flushed occurrences into the series: one write per touched scope and bucket. */
export function countInSeries(storage: SqlStorage, occurrences: readonly Pick<ArchivedOccurrence, "fingerprint" | "recordedAt">[], now: number): void {
  if (occurrences.length === 0) return;
  const hour = Math.floor(now / HOUR_MS);
  const day = Math.floor(now / DAY_MS);
  rollUp(storage, hour, day);
  const counts = new Map<string, { scope: string; unit: Unit; at: number; n: number }>();
  for (const o of occurrences) {
    const t = Math.min(o.recordedAt, now);
    const bucket: [Unit, number] | null =
      Math.floor(t / HOUR_MS) === hour
        ? ["m", Math.floor(t / MINUTE_MS)]
        : Math.floor(t / DAY_MS) === day
          ? ["h", Math.floor(t / HOUR_MS)]
          : Math.floor(t / DAY_MS) > day - SLOTS.d
            ? ["d", Math.floor(t / DAY_MS)]
            : null;
    if (!bucket) continue;
    for (const scope of [TENANT_SCOPE, o.fingerprint]) {
      const key = `${scope}|${bucket[0]}|${bucket[1]}`;
      const entry = counts.get(key);
      if (entry) entry.n++;
      else counts.set(key, { scope, unit: bucket[0], at: bucket[1], n: 1 });
    }
  }
  for (const c of counts.values()) add(storage, c.scope, c.unit, c.at, c.n);
}

interface Buckets {
  m: Map<number, number>;
  h: Map<number, number>;
  d: Map<number, number>;
}

function bucketsOf(storage: SqlStorage, scopes: readonly string[], units: readonly Unit[]): Map<string, Buckets> {
  const out = new Map<string, Buckets>(scopes.map((s) => [s, { m: new Map(), h: new Map(), d: new Map() }]));
  for (const chunk of fitting(scopes, 1, units.length)) {
    const rows = run<{ scope: string; unit: Unit; at: number; count: number }>(
      storage,
      sql`SELECT scope, unit, at, count FROM series WHERE scope IN ${sql.list(chunk)} AND unit IN ${sql.list(units)}`,
    );
    for (const r of rows) out.get(r.scope)?.[r.unit].set(r.at, r.count);
  }
  return out;
}

/** Reads buckets of one scope, rolled up or not: what a complete series is made of. */
class SeriesReader {
  constructor(
    private readonly b: Buckets,
    private readonly hoursRolledBelow: number,
    private readonly daysRolledBelow: number,
  ) {}

  minute(m: number): number {
    return this.b.m.get(m) ?? 0;
  }

  hour(h: number): number {
    if (h < this.hoursRolledBelow) return this.b.h.get(h) ?? 0;
    let n = 0;
    for (let m = h * 60; m < h * 60 + 60; m++) n += this.minute(m);
    return n;
  }

  day(d: number): number {
    if (d < this.daysRolledBelow) return this.b.d.get(d) ?? 0;
    let n = 0;
    for (let h = d * 24; h < d * 24 + 24; h++) n += this.hour(h);
    return n;
  }
}

export interface SeriesRange {
  /** The first bucket's start (ISO 8601); each count covers stepSeconds from there, oldest first. */
  start: string;
  stepSeconds: number;
  counts: number[];
}

export interface Series {
  /** When it was read (the ledger's clock). */
  at: string;
  minutes: SeriesRange;
  hours: SeriesRange;
  days: SeriesRange;
}

function range(last: number, length: number, unitMs: number, count: (bucket: number) => number): SeriesRange {
  const first = last - length + 1;
  return {
    start: new Date(first * unitMs).toISOString(),
    stepSeconds: unitMs / 1000,
    counts: Array.from({ length }, (_, i) => count(first + i)),
  };
}

function readers(storage: SqlStorage, scopes: readonly string[], units: readonly Unit[], now: number): Map<string, SeriesReader> {
  const hoursRolled = rolledBelow(storage, "h") ?? Math.floor(now / HOUR_MS);
  const daysRolled = rolledBelow(storage, "d") ?? Math.floor(now / DAY_MS);
  return new Map([...bucketsOf(storage, scopes, units)].map(([scope, b]) => [scope, new SeriesReader(b, hoursRolled, daysRolled)]));
}

export function readSeries(storage: SqlStorage, scope: string, now: number): Series {
  const r = readers(storage, [scope], ["m", "h", "d"], now).get(scope)!;
  return {
    at: new Date(now).toISOString(),
    minutes: range(Math.floor(now / MINUTE_MS), SERIES_LENGTHS.minutes, MINUTE_MS, (m) => r.minute(m)),
    hours: range(Math.floor(now / HOUR_MS), SERIES_LENGTHS.hours, HOUR_MS, (h) => r.hour(h)),
    days: range(Math.floor(now / DAY_MS), SERIES_LENGTHS.days, DAY_MS, (d) => r.day(d)),
  };
}

/** Groups as the API serves them: each with its failures per hour over the last 24 h. */
export function withSparklines<G extends { fingerprint: string }>(storage: SqlStorage, groups: G[], now: number): (G & { sparkline: number[] })[] {
  const lines = sparklines(storage, groups.map((g) => g.fingerprint), now);
  return groups.map((g) => ({ ...g, sparkline: lines.get(g.fingerprint) ?? [] }));
}

/** Each scope's failures per hour over the last 24 hours, oldest first: a groups list's trend line. */
export function sparklines(storage: SqlStorage, scopes: readonly string[], now: number): Map<string, number[]> {
  const last = Math.floor(now / HOUR_MS);
  return new Map(
    [...readers(storage, scopes, ["m", "h"], now)].map(([scope, r]) => [scope, range(last, SERIES_LENGTHS.hours, HOUR_MS, (h) => r.hour(h)).counts]),
  );
}

/** Failures over time, of the tenant or of one group. */
export function seriesOf(sql: SqlStorage, group: string | undefined, now: number): Series {
  return readSeries(sql, group ?? TENANT_SCOPE, now);
}
