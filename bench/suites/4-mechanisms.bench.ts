// 5. What each of the store's optional mechanisms saves (src/ledger/store/mechanisms.ts): the same
// workload through two ledgers, one with every mechanism on and one with the mechanism off
// (bench/worker.ts picks it from the tenant's name), on the real path (DLQ consumer → ledger →
// alarm-driven flushes). Rows written are counted, so they do not vary from run to run; the
// wall times do, so they are compared as a ratio within the run.

import { expect, it } from "vitest";
import { drive, ledger, phase, sizes } from "../harness";
import { sim } from "../meter";
import { mechanismTenant } from "../worker";
import type { Workload } from "../workload";
import type { Mechanisms } from "../../src/ledger/store";

/** Each mechanism with the workload that exercises it. */
const CASES: { mechanism: keyof Mechanisms; workload: string; repeatRate: number; changing: boolean }[] = [
  { mechanism: "listTails", workload: "50 % repeats, each with other fields", repeatRate: 0.5, changing: true },
  { mechanism: "listTails", workload: "0 % repeats", repeatRate: 0, changing: false },
  { mechanism: "orderLists", workload: "0 % repeats", repeatRate: 0, changing: false },
];

async function run(mechanism: keyof Mechanisms, off: boolean, c: (typeof CASES)[number], index: number) {
  const tenant = mechanismTenant(off ? mechanism : null, `${index}`);
  const w: Workload = { tenant, failures: sizes.mechanisms, repeatRate: c.repeatRate, changing: c.changing, seed: 7, startAt: sim.now + 3600_000, batchIntervalMs: 1000 };
  const { stub, meter } = ledger(tenant);
  const driven = await drive(stub, meter, w);
  const stats = await stub.stats();
  expect(stats.outbox.pendingRows, "everything flushed").toBe(0);
  expect(stats.occurrences).toBe(w.failures);
  expect(stats.archive.occurrences).toBe(w.failures);
  return { failures: w.failures, ...driven, meter: meter.snapshot(), storage: { ledgerBytes: await stub.databaseSize(), d1Bytes: 0, r2Bytes: 0 } };
}

CASES.forEach((c, index) => {
  it(`mechanism: ${c.mechanism}, ${c.workload}`, async ({ task }) => {
    await phase(`mechanisms: ${c.mechanism}, ${c.workload}`);
    const on = await run(c.mechanism, false, c, index);
    const off = await run(c.mechanism, true, c, index);
    task.meta.bench = { mechanism: c.mechanism, workload: c.workload, on, off };
  });
});
