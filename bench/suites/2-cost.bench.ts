// 2. Cost per million failures, and 4. storage per failure: the same workload through our design
// (real DLQ consumer → ledger → alarm-driven flushes to D1, R2, Analytics Engine) and through the
// seed's design (bench/seed.ts: per message one R2 put, one D1 write, one data point), at 0 % and
// 50 % repeats. Billed units are counted as they happen (bench/meter.ts); prices are applied in
// bench/run.mjs. Queue operations are the one figure counted by formula (3 per delivered message).

import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { Meter, meterAnalytics, meterD1, meterR2, sim } from "../meter";
import { seedConsume } from "../seed";
import { d1Size, deliver, drive, ledger, phase, r2Usage, sizes } from "../harness";
import { batches, type Workload } from "../workload";

/** One full batch a second for the tenant (100 failures/s): with a 5 s flush delay, ~500 failures a flush. */
const BATCH_INTERVAL_MS = 1000;

function workload(tenant: string, repeatRate: number, failures: number): Workload {
  return { tenant, failures, repeatRate, seed: 42, startAt: sim.now + 3600_000, batchIntervalMs: BATCH_INTERVAL_MS };
}

async function d1Jobs(db: D1Database, tenant: string): Promise<number> {
  return (await db.prepare(`SELECT COUNT(*) AS n FROM failures WHERE tenant_id = ?`).bind(tenant).first<{ n: number }>())!.n;
}

async function ours(repeatRate: number) {
  const w = workload(`cost-ours-${repeatRate * 100}`, repeatRate, sizes.cost);
  const { stub, meter } = ledger(w.tenant);
  const d1Before = await d1Size(env.DB);
  const { invocations, messages, jobs, timing } = await drive(stub, meter, w);

  const stats = await stub.stats();
  expect(stats.outbox.pendingRows, "everything flushed").toBe(0);
  expect(stats.occurrences).toBe(w.failures);
  expect(stats.total).toBe(jobs);
  expect(stats.archive.occurrences).toBe(w.failures);
  expect(meter.analytics.occurrences, "the Analytics Engine points carry every occurrence").toBe(w.failures);
  // The meter also sees the tenant's one shard assignment (a row in the primary, once per tenant).
  const assignment = meter.d1WrittenBy["INSERT tenant_shards"] ?? 0;
  expect(assignment, "a tenant is assigned to its D1 database once").toBeLessThanOrEqual(1);
  expect(meter.d1.rowsWritten - assignment, "the ledger's own D1 count agrees with the meter").toBe(stats.archive.d1RowsWritten);
  expect(await d1Jobs(env.DB, w.tenant)).toBe(jobs);
  const r2 = await r2Usage(env.ARCHIVE, `${w.tenant}/`);
  expect(r2.objects).toBe(stats.archive.segments);

  return {
    design: "ours",
    repeatRate,
    failures: w.failures,
    jobs,
    messages,
    invocations,
    meter: meter.snapshot(),
    flushes: stats.archive.flushes,
    storage: {
      ledgerBytes: await stub.databaseSize(),
      d1Bytes: (await d1Size(env.DB)) - d1Before,
      r2Bytes: r2.bytes,
      r2Objects: r2.objects,
    },
    timing,
  };
}

async function seed(repeatRate: number) {
  // the first seedSample failures of the same workload (see sizes in harness.ts)
  const w = workload(`cost-seed-${repeatRate * 100}`, repeatRate, sizes.seedSample);
  const meter = new Meter();
  const seedEnv = { DB: meterD1(env.SEED_DB, meter), ARCHIVE: meterR2(env.SEED_ARCHIVE, meter), EVENTS: meterAnalytics(env.SEED_EVENTS, meter) };
  const d1Before = await d1Size(env.SEED_DB);
  let invocations = 0;
  let messages = 0;
  let jobs = 0;
  const wallStarted = Date.now();
  for (const batch of batches(w)) {
    await deliver(batch.messages, (b) => seedConsume(b, seedEnv));
    invocations++;
    messages += batch.messages.length;
    jobs += batch.newJobs;
  }
  const wallMs = Date.now() - wallStarted;

  expect(meter.r2.puts).toBe(w.failures);
  expect(meter.analytics.points).toBe(w.failures);
  expect(meter.analytics.occurrences).toBe(w.failures);
  expect(await d1Jobs(env.SEED_DB, w.tenant)).toBe(jobs);
  const r2 = await r2Usage(env.SEED_ARCHIVE, `dlq/${w.tenant}/`);
  expect(r2.objects).toBe(w.failures);

  return {
    design: "seed",
    repeatRate,
    failures: w.failures,
    jobs,
    messages,
    invocations,
    meter: meter.snapshot(),
    storage: { ledgerBytes: 0, d1Bytes: (await d1Size(env.SEED_DB)) - d1Before, r2Bytes: r2.bytes, r2Objects: r2.objects },
    timing: { wallMs, ingestMs: wallMs, alarmMs: 0 },
  };
}

for (const repeatRate of [0, 0.5]) {
  it(`cost: ours, ${repeatRate * 100}% repeats`, async ({ task }) => {
    await phase(`cost: ours, ${repeatRate * 100}% repeats`);
    task.meta.bench = await ours(repeatRate);
  });
  it(`cost: seed, ${repeatRate * 100}% repeats`, async ({ task }) => {
    await phase(`cost: seed, ${repeatRate * 100}% repeats`);
    task.meta.bench = await seed(repeatRate);
  });
}
