// 3. Read latency vs size, and 4. ledger bytes per failure at size: stats(), a failures page of
// 50, filtered pages (common, rare: one group / class / status at about 0.1 %, none) and searches (each page bounded to 2,000 failures looked at), p50 and p99, with 1,000 / 100,000 / 1,000,000 failures in one ledger, each against a
// trivial RPC round trip (ping) to the same object measured in the same loop.
//
// The first 1,000 failures go through the real consumer and are flushed by the alarm; the ledger
// then grows by direct SQL (MeteredLedger.fillCopies: copies of those rows, counters adjusted),
// since recording a million through the consumer would take ten minutes on its own.

import { expect, it } from "vitest";
import { FLUSH_DELAY_MS, deliver, ledger, phase, runDueAlarms, sizes, summary } from "../harness";
import { sim } from "../meter";
import { RARE } from "../worker";
import { batches } from "../workload";

/** No operation gets more than this much wall time per size (after at least MIN_SAMPLES). */
const BUDGET_MS = 12_000;
const MIN_SAMPLES = 20;

it("read latency vs size", async ({ task }) => {
  await phase("read: fill 1,000 through the consumer");
  const tenant = "read";
  const { stub, meter } = ledger(tenant);
  const start = sim.now + 24 * 3600_000;
  let lastAt = start;
  for (const batch of batches({ tenant, failures: 1_000, repeatRate: 0, seed: 9, startAt: start, batchIntervalMs: 1000 })) {
    await runDueAlarms(stub, meter, batch.at);
    sim.now = lastAt = batch.at;
    await deliver(batch.messages);
  }
  await runDueAlarms(stub, meter, lastAt + FLUSH_DELAY_MS);

  const ops: Record<string, () => Promise<unknown>> = {
    ping: () => stub.ping(),
    stats: () => stub.stats(),
    page: () => stub.listFailures({ limit: 50 }),
    // filters the API offers: a common class (about a third of the rows); a group, a class and a
    // status that each match about 0.1 % (fillCopies makes them); one that matches nothing
    pageClassCommon: () => stub.listFailures({ limit: 50, class: "SYSTEM_ERROR" }),
    pageGroupRare: () => stub.listFailures({ limit: 50, group: RARE.group }),
    pageClassRare: () => stub.listFailures({ limit: 50, class: RARE.class }),
    pageStatusRare: () => stub.listFailures({ limit: 50, status: RARE.status }),
    pageNoMatch: () => stub.listFailures({ limit: 50, status: "exhausted" }),
    // the same rare filters with the store's order lists turned off: the page walks the time order
    pageGroupRareNoLists: () => stub.listFailuresWith({ orderLists: false }, { limit: 50, group: RARE.group }),
    pageClassRareNoLists: () => stub.listFailuresWith({ orderLists: false }, { limit: 50, class: RARE.class }),
    pageStatusRareNoLists: () => stub.listFailuresWith({ orderLists: false }, { limit: 50, status: RARE.status }),
    // search (q= and field=&value=): a word in 15 % of error messages, a word in none, one user's jobs (0.1 %)
    searchCommon: () => stub.listFailures({ limit: 50, q: "TIMED OUT" }),
    searchNoMatch: () => stub.listFailures({ limit: 50, q: "no failure says this" }),
    searchField: () => stub.listFailures({ limit: 50, field: { path: "requestedBy", value: "user-42" } }),
  };

  const RARE_OPS = new Set(["pageGroupRare", "pageClassRare", "pageStatusRare", "pageGroupRareNoLists", "pageClassRareNoLists", "pageStatusRareNoLists"]);
  const points = [];
  for (const size of sizes.read) {
    await phase(`read: ${size.toLocaleString("en-US")} failures`);
    const fillStarted = Date.now();
    const fill = size > 1_000 ? await stub.fillCopies(size) : null;
    const fillMs = Date.now() - fillStarted;
    const stats = await stub.stats();
    expect(stats.total).toBe(size);
    expect((await stub.listFailures({ limit: 50 })).items).toHaveLength(50);
    if (fill) expect((await stub.listFailures({ limit: 50, group: RARE.group })).items).toHaveLength(50);

    // Before any copies the rare group, class and status are not rare (or not there): not measured.
    const measured = Object.entries(ops).filter(([name]) => fill || !RARE_OPS.has(name));
    const samples: Record<string, number[]> = Object.fromEntries(measured.map(([k]) => [k, []]));
    const spent: Record<string, number> = Object.fromEntries(measured.map(([k]) => [k, 0]));
    for (const [, op] of measured) for (let i = 0; i < 3; i++) await op(); // warm-up
    for (let i = 0; i < sizes.readSamples; i++) {
      let ran = false;
      // round robin, so every operation sees the same conditions
      for (const [name, op] of measured) {
        if (samples[name]!.length >= MIN_SAMPLES && spent[name]! > BUDGET_MS) continue;
        const started = Date.now();
        await op();
        const ms = Date.now() - started;
        samples[name]!.push(ms);
        spent[name]! += ms;
        ran = true;
      }
      if (!ran) break;
    }
    const latency = Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, summary(s)]));
    // Without the order lists, a rare filter's first 50 matches take many budgeted pages: how many, and how long in all.
    const withoutLists = fill ? await firstMatchesWithoutLists(stub) : null;
    const ledgerBytes = await stub.databaseSize();
    points.push({ size, fill: fill && { ...fill, ms: fillMs }, latency, withoutLists, ledgerBytes, bytesPerFailure: ledgerBytes / size });
    console.log(`read @${size}: ${Object.entries(latency).map(([n, l]) => `${n} p50 ${l.p50} p99 ${l.p99}`).join(", ")}; ${ledgerBytes} bytes`);
  }
  task.meta.bench = { realPathFailures: 1_000, points };
});

/** For each rare filter, with the order lists off: the pages (and their total ms) until 50 matches or the end. */
async function firstMatchesWithoutLists(stub: ReturnType<typeof ledger>["stub"]) {
  const filters = { group: { group: RARE.group }, class: { class: RARE.class }, status: { status: RARE.status } } as const;
  const out: Record<string, { pages: number; ms: number; found: number }> = {};
  for (const [name, filter] of Object.entries(filters)) {
    let pages = 0;
    let found = 0;
    let after: { lastFailedAt: number; jobId: string } | undefined;
    const started = Date.now();
    do {
      const page = await stub.listFailuresWith({ orderLists: false }, { limit: 50, ...filter, after });
      pages++;
      found += page.items.length;
      after = page.next ?? undefined;
    } while (found < 50 && after && pages < 1_000);
    out[name] = { pages, ms: Date.now() - started, found };
  }
  return out;
}
