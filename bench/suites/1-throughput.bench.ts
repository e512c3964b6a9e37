// 1. Ingest throughput: failures/s through the real DLQ consumer (batches of 100, one ledger RPC
// per batch) into one tenant's ledger, against a bare loop of plain INSERTs of the same rows in a
// Durable Object. Flushes are held back (the simulated clock never reaches them): this is the
// record path alone; flush speed is measured by the cost bench. The ledgers here are not
// metered (their statements are not counted), so they run as deployed, like the bare loop.

import { env } from "cloudflare:workers";
import { it } from "vitest";
import type { FailureInput } from "../../src/model";
import { deliver, ledger, median, phase, sizes } from "../harness";
import { sim } from "../meter";
import { batches } from "../workload";

const REPEAT_RATE = 0;

async function consumerRun(tenant: string, failures: number): Promise<{ ms: number; rows: FailureInput[] }> {
  const { meter } = ledger(tenant);
  meter.capture = true;
  meter.tracking = false;
  let ms = 0;
  for (const batch of batches({ tenant, failures, repeatRate: REPEAT_RATE, seed: 7, startAt: sim.now, batchIntervalMs: 1000 })) {
    sim.now = batch.at;
    const started = Date.now();
    await deliver(batch.messages);
    ms += Date.now() - started;
  }
  meter.capture = false;
  return { ms, rows: meter.captured as FailureInput[] };
}

/** The same rows straight into record(), 100 per RPC: the ledger's share of the consumer's time. */
async function recordRun(tenant: string, rows: FailureInput[]): Promise<number> {
  const { stub, meter } = ledger(tenant);
  meter.tracking = false;
  await stub.ping();
  const started = Date.now();
  for (let i = 0; i < rows.length; i += 100) await stub.record(rows.slice(i, i + 100));
  return Date.now() - started;
}

async function bareRun(name: string, rows: FailureInput[], perCall: number): Promise<number> {
  const bare = env.BARE_INSERTS.getByName(name);
  await bare.ping(); // the object exists before the clock starts, as the warmed-up ledger does
  const started = Date.now();
  for (let i = 0; i < rows.length; i += perCall) await bare.insert(rows.slice(i, i + perCall));
  return Date.now() - started;
}

it("ingest throughput", async ({ task }) => {
  await phase("ingest throughput");
  const n = sizes.throughput;
  // warm-up: JIT, the classifier and redactor caches, D1-free code paths, a first object
  const warm = await consumerRun("tp-warmup", 500);
  await bareRun("tp-warmup-loop", warm.rows, 1000);

  const reps: { consumerMs: number; recordMs: number; bareLoopMs: number; barePerBatchMs: number }[] = [];
  for (let rep = 0; rep < sizes.throughputReps; rep++) {
    const ours = await consumerRun(`tp-${rep}`, n);
    if (ours.rows.length !== n) throw new Error(`captured ${ours.rows.length} rows, expected ${n}`);
    // Same rows, same order. One RPC per 1,000 rows: the loop itself dominates.
    const bareLoopMs = await bareRun(`tp-loop-${rep}`, ours.rows, 1000);
    // Same rows, one RPC per 100: what is left of the gap is the consumer and record() themselves.
    const barePerBatchMs = await bareRun(`tp-batch-${rep}`, ours.rows, 100);
    const recordMs = await recordRun(`tp-record-${rep}`, ours.rows);
    reps.push({ consumerMs: ours.ms, recordMs, bareLoopMs, barePerBatchMs });
  }
  const rate = (ms: number) => Math.round((n / Math.max(ms, 1)) * 1000);
  const consumer = rate(median(reps.map((r) => r.consumerMs)));
  const bareLoop = rate(median(reps.map((r) => r.bareLoopMs)));
  const barePerBatch = rate(median(reps.map((r) => r.barePerBatchMs)));
  const recordOnly = rate(median(reps.map((r) => r.recordMs)));
  task.meta.bench = {
    failures: n,
    reps,
    perSecond: { consumer, recordOnly, bareLoop, barePerBatch },
    ratio: { consumerVsBareLoop: consumer / bareLoop },
  };
  console.log(`ingest: consumer ${consumer}/s, record() only ${recordOnly}/s, bare loop ${bareLoop}/s, bare per batch ${barePerBatch}/s`);
});
