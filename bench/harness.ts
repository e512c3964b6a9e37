// Shared by the bench suites: sizes, driving the real DLQ consumer, driving the ledger's alarm on
// the simulated clock, and small statistics.

import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { MeteredLedger } from "./worker";
import worker from "./worker";
import { meterFor, sim, type Meter } from "./meter";
import { batches, type Workload } from "./workload";

export const quick = env.BENCH_SCALE === "quick";

/**
 * The seed's design writes to local R2 and D1 once per message, ~12 ms a message here: 100,000
 * would take 20 minutes. It runs the first `seedSample` failures of the same workload; its units
 * are per message by construction, so run.mjs scales them to `cost`.
 */
const scaled = quick
  ? { throughput: 2_000, throughputReps: 3, cost: 5_000, seedSample: 1_000, read: [1_000, 10_000, 100_000], readSamples: 100, mechanisms: 3_000 }
  : { throughput: 10_000, throughputReps: 3, cost: 100_000, seedSample: 5_000, read: [1_000, 100_000, 1_000_000], readSamples: 300, mechanisms: 20_000 };
export const sizes = env.BENCH_READ_SIZES ? { ...scaled, read: env.BENCH_READ_SIZES.split(",").map(Number) } : scaled;

/** The dead-letter queue the consumer reads (wrangler.toml). */
export const DLQ = "jobs-dlq";
/** The ledger's flush delay in production (wrangler.toml FLUSH_DELAY_SECONDS). */
export const FLUSH_DELAY_MS = 5_000;

export function ledger(tenant: string): { stub: DurableObjectStub<MeteredLedger>; meter: Meter } {
  const stub = env.FAILURE_LEDGER.getByName(tenant) as unknown as DurableObjectStub<MeteredLedger>;
  return { stub, meter: meterFor(stub.id.toString()) };
}

/**
 * Tells run.mjs (through the pool's outbound service, in Node) which phase the memory samples
 * belong to. Best effort: a lost label never fails a bench.
 */
export async function phase(name: string): Promise<void> {
  // after a long quiet spell the runtime may reuse a keep-alive connection Node has closed: once more
  for (let attempt = 1; ; attempt++) {
    try {
      await (await fetch("http://bench.phase/", { method: "POST", body: name })).text();
      return;
    } catch (error) {
      if (attempt < 3) continue;
      console.warn(`bench: phase label "${name}" not delivered: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
  }
}

/** One invocation of the worker's queue handler, as the platform would make it; throws unless every message was acked. */
export async function deliver(messages: ServiceBindingQueueMessage<unknown>[], handler: (batch: MessageBatch<unknown>, ctx: ExecutionContext) => Promise<void> = (b, c) => worker.queue!(b, env, c)) {
  const batch = createMessageBatch(DLQ, messages);
  const ctx = createExecutionContext();
  await handler(batch, ctx);
  const result = await getQueueResult(batch, ctx);
  if (result.explicitAcks.length !== messages.length || result.retryMessages.length > 0) {
    throw new Error(`batch not fully acked: ${result.explicitAcks.length}/${messages.length} acked, ${result.retryMessages.length} retried`);
  }
}

/**
 * Runs the ledger's alarm, as the platform would, every time it is due up to `until` on the
 * simulated clock (the ledger's clock is set to the alarm's time first). Returns the runs and
 * the wall time they took.
 */
export async function runDueAlarms(stub: DurableObjectStub<MeteredLedger>, meter: Meter, until: number): Promise<{ runs: number; ms: number }> {
  let runs = 0;
  let ms = 0;
  while (meter.alarmAt !== null && meter.alarmAt <= until) {
    sim.now = meter.alarmAt;
    const started = Date.now();
    if (!(await runDurableObjectAlarm(stub))) throw new Error("the ledger's alarm was expected to be set");
    ms += Date.now() - started;
    runs++;
    if (runs > 10_000) throw new Error("alarm loop does not settle");
  }
  return { runs, ms };
}

/**
 * A workload through the real DLQ consumer into its tenant's ledger, the ledger's alarm run
 * whenever due on the simulated clock, until everything is flushed. Returns what was sent and
 * the wall time spent in the consumer (ingest) and in alarms.
 */
export async function drive(stub: DurableObjectStub<MeteredLedger>, meter: Meter, w: Workload) {
  let invocations = 0;
  let messages = 0;
  let jobs = 0;
  let ingestMs = 0;
  let alarmMs = 0;
  let lastAt = w.startAt;
  const wallStarted = Date.now();
  for (const batch of batches(w)) {
    alarmMs += (await runDueAlarms(stub, meter, batch.at)).ms;
    sim.now = batch.at;
    const started = Date.now();
    await deliver(batch.messages);
    ingestMs += Date.now() - started;
    invocations++;
    messages += batch.messages.length;
    jobs += batch.newJobs;
    lastAt = batch.at;
  }
  // the tail: the last records flush FLUSH_DELAY_MS later
  alarmMs += (await runDueAlarms(stub, meter, lastAt + FLUSH_DELAY_MS)).ms;
  return { invocations, messages, jobs, timing: { wallMs: Date.now() - wallStarted, ingestMs, alarmMs } };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function summary(samples: readonly number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const mean = samples.reduce((a, b) => a + b, 0) / Math.max(1, samples.length);
  return { n: samples.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), mean: Math.round(mean * 1000) / 1000, max: sorted[sorted.length - 1] ?? NaN };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** D1's own size report after a query: the database file size in bytes. */
export async function d1Size(db: D1Database): Promise<number> {
  const result = await db.prepare(`SELECT 1`).run();
  return result.meta.size_after;
}

/** Object count and total bytes under a prefix (harness listing: not metered). */
export async function r2Usage(bucket: R2Bucket, prefix: string): Promise<{ objects: number; bytes: number }> {
  let objects = 0;
  let bytes = 0;
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix, cursor, limit: 1000 });
    for (const o of page.objects) {
      objects++;
      bytes += o.size;
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  return { objects, bytes };
}
