// Every read of the ledger against the model, after each command: the pages of each single filter,
// of a few combinations and of lastFailedAt ranges walked to the end through their cursors, each failure by id, the
// stats counters and the groups list. The reads run inside the object (its public methods,
// called directly), so a full comparison costs no RPC round trips.

import { runInDurableObject } from "cloudflare:test";
import { expect } from "vitest";
import type { FailureLedger } from "../../src/failure-ledger";
import type { PageCursor } from "../../src/ledger/store";
import type { Real } from "./commands";
import { FINGERPRINTS } from "./inputs";
import { CLASSES, LedgerModel, ORIGIN, PLAIN, STATUSES, detailOf, groupOf, statsOf, summaryOf, type Filter } from "./model";

const LIMITS = [1, 2, 3, 5, 50];

/** The filters compared after the step-th command: every single one, and combinations that vary with the step. */
export function filtersAt(step: number): Filter[] {
  const at = <T>(xs: readonly T[], i: number) => xs[i % xs.length]!;
  return [
    {},
    ...CLASSES.map((c) => ({ class: c })),
    ...STATUSES.map((s) => ({ status: s })),
    ...[PLAIN, ORIGIN, "no-such-queue"].map((q) => ({ queue: q })),
    ...[...FINGERPRINTS, "fp-none"].map((g) => ({ group: g })),
    { class: at(CLASSES, step), status: at(STATUSES, step) },
    { class: at(CLASSES, step + 1), queue: at([PLAIN, ORIGIN], step) },
    { queue: at([PLAIN, ORIGIN], step + 1), status: at(STATUSES, step + 2) },
    { group: at(FINGERPRINTS, step), class: at(CLASSES, step + 2) },
    { group: at(FINGERPRINTS, step + 2), status: at(STATUSES, step + 4) },
    { group: at(FINGERPRINTS, step + 1), class: at(CLASSES, step + 3), status: at(STATUSES, step + 1) },
  ];
}

/**
 * Pages bounded by lastFailedAt (from/to, both inclusive) after the step-th command, alone and
 * with a filter. The bounds are the held failures' own times (so an end falls on a failure, and
 * on ties), a millisecond inside or outside them, one instant, an empty range and one past all.
 */
export function rangesAt(step: number, m: LedgerModel): Filter[] {
  const times = [...new Set([...m.failures.values()].map((f) => f.lastFailedAt))].sort((a, b) => a - b);
  if (times.length === 0) times.push(m.now);
  const at = <T>(xs: readonly T[], i: number) => xs[i % xs.length]!;
  const a = at(times, step);
  const b = at(times, 3 * step + 1);
  const [lo, hi] = a <= b ? [a, b] : [b, a];
  return [
    { from: a },
    { to: a },
    { from: lo, to: hi },
    { from: lo + 1, to: hi - 1 },
    { from: b, to: b },
    { from: times[times.length - 1]! + 1 },
    { from: hi, to: lo - 1 },
    { from: lo, to: hi, status: at(STATUSES, step + 3) },
    { from: a, class: at(CLASSES, step + 1) },
    { to: a - 1, group: at(FINGERPRINTS, step + 3) },
    { from: lo - 1, to: hi + 1, queue: at([PLAIN, ORIGIN], step) },
    { from: lo, to: hi, group: at(FINGERPRINTS, step), status: at(STATUSES, step + 5) },
  ];
}

export async function compareAll(m: LedgerModel, r: Real): Promise<void> {
  const limit = LIMITS[r.step % LIMITS.length]!;
  const filters = [...filtersAt(r.step), ...rangesAt(r.step, m)];
  const ids = [...m.seen].sort();
  const read = await runInDurableObject(r.stub, async (ledger: FailureLedger) => {
    const walks = [];
    for (const filter of filters) {
      const pages: Awaited<ReturnType<typeof ledger.listFailures>>["items"][] = [];
      let after: PageCursor | undefined;
      for (;;) {
        const page = await ledger.listFailures({ ...filter, limit, after });
        pages.push(page.items);
        if (!page.next) break;
        if (pages.length > 500) throw new Error(`the pages of ${JSON.stringify(filter)} never end`);
        after = page.next;
      }
      walks.push(pages);
    }
    const byId = [];
    for (const id of ids) byId.push(await ledger.getFailure(id));
    const histories: Record<string, { at: number; actor: string; action: string }[]> = {};
    for (const g of m.groups.keys()) histories[g] = (await ledger.groupHistory(g, 1000)).map(({ at, actor, action }) => ({ at, actor, action }));
    return { stats: await ledger.stats(), groups: await ledger.listGroups(1000), walks, byId, histories };
  });

  const s = read.stats;
  expect(
    {
      total: s.total,
      occurrences: s.occurrences,
      duplicates: s.duplicates,
      batches: s.batches,
      byClass: s.byClass,
      byStatus: s.byStatus,
      byQueue: s.byQueue,
      avgAttempts: s.avgAttempts,
      recoveryQueueSize: s.recoveryQueueSize,
      groups: s.groups,
      rows: s.rows,
      evicted: s.evicted,
      recovery: {
        retriesSent: s.recovery.retriesSent,
        refailures: s.recovery.refailures,
        exhausted: s.recovery.exhausted,
        poison: s.recovery.poison,
        recovered: s.recovery.recovered,
        presumedRecovered: s.recovery.presumedRecovered,
        manualRequeues: s.recovery.manualRequeues,
        abandoned: s.recovery.abandoned,
      },
    },
    "stats",
  ).toEqual(statsOf(m));

  expect(
    read.groups.map(({ sparkline: _, ...g }) => g),
    "groups",
  ).toEqual(m.groupList().map((g) => groupOf(g, m.now)));
  expect(read.histories, "each group's history, newest first").toEqual(
    Object.fromEntries([...m.groups.values()].map((g) => [g.fingerprint, [...g.history].reverse()])),
  );

  filters.forEach((filter, i) => {
    const pages = read.walks[i]!;
    const what = `pages of ${JSON.stringify(filter)}, ${limit} a page`;
    expect(
      pages.map((p) => p.length).filter((n) => n > limit),
      `${what}: no page longer than asked`,
    ).toEqual([]);
    expect(pages.flat(), what).toEqual(m.list(filter).map((f) => summaryOf(r.tenant, f)));
  });

  ids.forEach((id, i) => {
    const held = m.failures.get(id);
    expect(read.byId[i], `getFailure(${id})`).toEqual(held ? detailOf(r.tenant, held) : null);
  });
}
