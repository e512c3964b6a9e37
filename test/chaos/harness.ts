// The chaos harness: a seeded workload of failing jobs across many tenants goes through the real
// path (the capture helper's envelopes, the DLQ consumer, the ledgers, their outboxes flushed to
// D1 and R2 by their alarms, recovery retries into a real origin queue) while faults are injected
// at the named points of src/faults.ts. The harness plays the platform's part in delivery, the
// part no local queue does on demand: at-least-once (a message delivered twice, an acked one
// delivered again), out of order, retries with max_retries, then the parking queue. A checker
// then compares what was sent with what the ledgers, D1 and R2 hold.

import { abortAllDurableObjects, createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import { buildEnvelope } from "@dlq-ledger/capture";
import { armFault, disarmFaults, faultsFired, type FaultPoint } from "../../src/faults";
import type { FailureLedger } from "../../src/failure-ledger";
import { shardIfAssigned } from "../../src/sinks/shards";
import { alarmTime } from "../support/failures";
import { seeded } from "../../src/ledger/setup";
import { ORIGIN } from "../support/recovery";

export interface ChaosOptions {
  seed: number;
  jobs: number;
  tenants: number;
}

export interface ChaosReport {
  seed: number;
  jobs: number;
  occurrences: number;
  lost: number;
  duplicated: number;
  unexpected: number;
  recovered: number;
  parked: number;
  /** failures that left the ledger by retention, found whole in D1 */
  evicted: number;
  /** per fault point: how many times it was armed, and how many times it threw */
  faults: Record<string, number>;
  fired: Record<string, number>;
  /** wall time of the seed, workload to checked */
  ms: number;
  /** how many D1 databases the tenants' failures were spread over */
  databases: number;
  steps: number;
  phases: Record<string, number>;
  problems: string[];
}

interface SimMessage {
  id: string;
  body: unknown;
  attempts: number;
  timestamp: Date;
  /** whose occurrence this is */
  job: string;
  occurrenceKey: string;
}

type Kind = "recoverable" | "user" | "system" | "crash";

interface Job {
  tenant: string;
  jobId: string;
  kind: Kind;
  /** occurrence keys the ledger must end up with, exactly once each */
  occurrences: Set<string>;
  /** DLQ message ids of occurrences that ended in the parking queue instead */
  parked: Set<string>;
  /**
   * Their occurrence keys. The ledger may hold one of these too, at most once: a write that
   * committed while its call failed, then as many failed deliveries as the platform allows.
   */
  parkedKeys: Set<string>;
  /** what the job does when a recovery retry of it arrives */
  succeedsOnRetry: boolean;
}

/** The DLQ consumer's max_retries in wrangler.toml: one more and the platform parks the message. */
const DLQ_MAX_RETRIES = 10;

const ERRORS: Record<Exclude<Kind, "crash">, { name: string; message: string; status: number }> = {
  recoverable: { name: "Error", message: "upstream timed out", status: 503 },
  user: { name: "Error", message: "chart 42 not found", status: 404 },
  system: { name: "Error", message: "internal error in renderer", status: 500 },
};

const ledgerOf = (tenant: string) => env.FAILURE_LEDGER.getByName(tenant);

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  /** Where the run's time goes (ms), to see what to speed up. */
  const phases: Record<string, number> = {};
  const timed = async <T>(phase: string, work: () => Promise<T>): Promise<T> => {
    const at = Date.now();
    try {
      return await work();
    } finally {
      phases[phase] = (phases[phase] ?? 0) + Date.now() - at;
    }
  };
  const firedBefore = faultsFired();
  const rng = seeded(options.seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const chance = (p: number) => rng() < p;
  const faults: Record<string, number> = {};
  const arm = (point: FaultPoint, key?: string) => {
    armFault(point, { key });
    faults[point] = (faults[point] ?? 0) + 1;
  };

  const tenants = Array.from({ length: options.tenants }, (_, i) => `chaos-${options.seed}-${i}`);
  const jobs = new Map<string, Job>();
  const dlq: SimMessage[] = [];
  const parking: SimMessage[] = [];
  let ids = 0;
  let clock = Date.now();

  /** One job failing for good once more: an envelope from the real capture helper, or a raw body. */
  const failOnce = (job: Job) => {
    clock += 1000;
    const body = { tenantId: job.tenant, jobId: job.jobId, task: "render" };
    const message = { id: `origin-${ids++}`, body, attempts: 4, timestamp: new Date(clock - 5000) } as unknown as Message<typeof body>;
    const id = `dlq-${options.seed}-${ids++}`;
    // A crash, or the capture helper's send failing (429, storage limit): the platform dead-letters the raw body.
    const key = `${job.tenant}/${job.jobId}`;
    if (job.kind === "crash" || chance(0.05)) {
      if (job.kind !== "crash") faults["capture.send"] = (faults["capture.send"] ?? 0) + 1;
      job.occurrences.add(`m:${id}`);
      dlq.push({ id, body, attempts: 1, timestamp: new Date(clock), job: key, occurrenceKey: `m:${id}` });
      return;
    }
    const error = Object.assign(new Error(ERRORS[job.kind].message), { status: ERRORS[job.kind].status });
    const envelope = buildEnvelope(message, error, { queue: job.kind === "recoverable" ? ORIGIN : "charts", now: clock })!;
    const occurrenceKey = `e:${envelope.lastFailedAt}:${envelope.attempts}`;
    job.occurrences.add(occurrenceKey);
    dlq.push({ id, body: envelope, attempts: 1, timestamp: new Date(clock), job: key, occurrenceKey });
  };

  for (let i = 0; i < options.jobs; i++) {
    const job: Job = {
      tenant: pick(tenants),
      jobId: `job-${i}`,
      kind: pick(["recoverable", "recoverable", "user", "system", "crash"] as const),
      occurrences: new Set(),
      parked: new Set(),
      parkedKeys: new Set(),
      succeedsOnRetry: chance(0.6),
    };
    jobs.set(`${job.tenant}/${job.jobId}`, job);
    failOnce(job);
  }

  const deliver = async (queue: string, batch: SimMessage[]) => {
    const created = createMessageBatch(queue, batch.map((m) => ({ id: m.id, body: m.body, attempts: m.attempts, timestamp: m.timestamp })));
    const ctx = createExecutionContext();
    await worker.queue(created, env, ctx);
    const result = await getQueueResult(created, ctx);
    return { acked: new Set<string>(result.explicitAcks), retried: new Set<string>(result.retryMessages.map((r: { msgId: string }) => r.msgId)) };
  };

  const consumeSome = async (calm: boolean) => {
    const size = calm ? 100 : 1 + Math.floor(rng() * 40);
    const batch = dlq.splice(0, size);
    // Out of order within the batch; sometimes one message twice in the same batch.
    batch.sort(() => rng() - 0.5);
    if (!calm && batch.length > 0 && chance(0.1)) batch.push({ ...batch[0]! });
    if (!calm && chance(0.3)) arm(pick(["ledger.record.before-commit", "ledger.record.after-commit"] as const), pick(tenants));
    const { acked, retried } = await deliver("jobs-dlq", batch);
    const seen = new Set<string>();
    for (const m of batch) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      if (acked.has(m.id) && !retried.has(m.id)) {
        // At-least-once: now and then an acked message comes again, later.
        if (!calm && chance(0.05)) dlq.push({ ...m, attempts: 1 });
        continue;
      }
      if (m.attempts >= DLQ_MAX_RETRIES + 1) {
        const job = jobs.get(m.job)!;
        job.occurrences.delete(m.occurrenceKey);
        job.parked.add(m.id);
        job.parkedKeys.add(m.occurrenceKey);
        parking.push(m);
      } else dlq.push({ ...m, attempts: m.attempts + 1 });
    }
  };

  /** The parking queue: archived raw to R2 and listed in D1; what failed is retried (100 retries, in effect forever). */
  const consumeParking = async (calm: boolean) => {
    const batch = parking.splice(0);
    if (!calm && chance(0.3)) {
      if (chance(0.5)) arm("parking.put", pick(batch).id);
      else arm("parking.d1");
    }
    const { acked, retried } = await deliver("jobs-dlq-parking", batch);
    for (const m of batch) if (retried.has(m.id) || !acked.has(m.id)) parking.push({ ...m, attempts: m.attempts + 1 });
  };

  const lastAlarmError = new Map<string, string>();
  /** Runs one tenant's alarm as the platform would (at its time), sometimes with a fault armed. */
  const runAlarm = async (tenant: string, calm = false) => {
    const at = await alarmTime(ledgerOf(tenant));
    if (at === null) return false;
    await ledgerOf(tenant).tune({ now: at });
    if (!calm && chance(0.4)) {
      const point = pick(["d1.batch", "r2.put", "analytics.write", "alarm", "recovery.after-send"] as const);
      // recovery.after-send is keyed by the origin queue; the others by tenant.
      arm(point, point === "recovery.after-send" ? ORIGIN : tenant);
    }
    if (!calm && chance(0.1)) arm("recovery.send", ORIGIN);
    try {
      await runDurableObjectAlarm(ledgerOf(tenant));
    } catch (error) {
      // an alarm that throws is retried by the platform: here, by a later run
      lastAlarmError.set(tenant, String(error).slice(0, 300));
    }
    return true;
  };

  /** Retries the ledgers sent: each retried job either succeeds (reported) or fails again. */
  let retriesSeen = 0;
  const settleRetries = async () => {
    const fresh = await (await env.RECEIVER.fetch(`http://receiver/received?from=${retriesSeen}`)).json<{ body: { tenantId: string; jobId: string } }[]>();
    retriesSeen += fresh.length;
    const touched = new Set<string>();
    for (const { body } of fresh) {
      const job = jobs.get(`${body?.tenantId}/${body?.jobId}`);
      if (!job) continue;
      touched.add(job.tenant);
      if (job.succeedsOnRetry) await ledgerOf(job.tenant).reportSucceeded([job.jobId]).catch(() => undefined);
      else failOnce(job);
    }
    return touched;
  };

  const chaosSteps = Math.max(30, options.jobs);
  let step = 0;
  for (; dlq.length > 0 || step < chaosSteps; step++) {
    if (dlq.length > 0) await timed("consume", () => consumeSome(false));
    if (chance(0.7)) await timed("alarm", () => runAlarm(pick(tenants)));
    if (chance(0.04)) {
      await timed("reset", () => abortAllDurableObjects()); // every ledger reset: memory gone, storage kept
      faults.reset = (faults.reset ?? 0) + 1;
    }
    if (parking.length > 0) await timed("parking", () => consumeParking(false));
    await timed("settle", () => settleRetries());
    if (step % 1000 === 999) console.log(`chaos progress: seed ${options.seed}, step ${step + 1}, ${dlq.length} in the DLQ, ${Math.round((Date.now() - started) / 1000)} s, ${JSON.stringify(phases)}`);
    if (step > options.jobs * 20) throw new Error("chaos: the DLQ never drained");
  }

  // Drain: no more faults; every alarm runs until the outboxes are empty and no retry is due.
  disarmFaults();
  const drainStarted = Date.now();
  // Recovery can take many alarm runs per ledger (backoff, circuit cool-downs and probes, presumed
  // recoveries), the more the more jobs a ledger has.
  const maxRounds = 500 + 50 * Math.ceil(options.jobs / options.tenants);
  // Each round asks only the ledgers that may have work: unsettled last round, or fed since.
  let unsettled = new Set(tenants);
  for (let round = 0; ; round++) {
    if (round === maxRounds) {
      const stuck = await Promise.all(
        tenants.map((t) =>
          runInDurableObject(ledgerOf(t), async (_i: FailureLedger, state) => ({
            tenant: t,
            lastAlarmError: lastAlarmError.get(t),
            alarm: await state.storage.getAlarm(),
            due: state.storage.sql.exec(`SELECT kind, key, due_at FROM due_work ORDER BY due_at LIMIT 5`).toArray(),
            outbox: state.storage.sql.exec(`SELECT COUNT(*) AS n FROM outbox`).one().n,
            circuits: state.storage.sql.exec(`SELECT * FROM circuits`).toArray(),
            probes: state.storage.sql
              .exec(`SELECT job_id, status, recovery_attempts, retry_in_flight, last_retry_at, occurrences, class FROM failures WHERE job_id IN (SELECT probe_job FROM circuits)`)
              .toArray(),
            presumes: state.storage.sql.exec(`SELECT key, due_at FROM due_work WHERE kind = 'presume'`).toArray(),
          })),
        ),
      );
      throw new Error(`chaos: the ledgers never settled: ${JSON.stringify(stuck)}`);
    }
    for (const m of dlq) unsettled.add(jobs.get(m.job)!.tenant);
    while (dlq.length > 0) await consumeSome(true);
    while (parking.length > 0) await consumeParking(true);
    const isSettled = async (t: string) => {
      const stats = await ledgerOf(t).stats();
      return stats.outbox.pendingRows === 0 && stats.recovery.scheduledRetries === 0;
    };
    const candidates = [...unsettled];
    const settled = await Promise.all(candidates.map(isSettled));
    unsettled = new Set(candidates.filter((_, i) => !settled[i]));
    if (unsettled.size === 0 && dlq.length === 0 && parking.length === 0) {
      // Confirm across every ledger before stopping.
      const all = await Promise.all(tenants.map(isSettled));
      unsettled = new Set(tenants.filter((_, i) => !all[i]));
      if (unsettled.size === 0) break;
    }
    // Only the ledgers with work left: a settled ledger's next alarm may be days away (retention).
    for (const tenant of unsettled) await runAlarm(tenant, true);
    for (const tenant of await settleRetries()) unsettled.add(tenant);
  }
  phases.drain = Date.now() - drainStarted;
  const report = await timed("check", () => check(options, jobs, tenants, faults));
  report.steps = step;
  report.phases = phases;
  const firedNow = faultsFired();
  // The harness plays the platform's part for these two: each one armed is one that happened.
  const simulated = Object.fromEntries(["capture.send", "reset"].filter((p) => faults[p]).map((p) => [p, faults[p]!]));
  report.fired = { ...simulated, ...Object.fromEntries(Object.entries(firedNow).map(([p, n]) => [p, n! - (firedBefore[p as FaultPoint] ?? 0)])) };
  report.ms = Date.now() - started;
  return report;
}

async function check(options: ChaosOptions, jobs: Map<string, Job>, tenants: string[], faults: Record<string, number>): Promise<ChaosReport> {
  const report: ChaosReport = { seed: options.seed, jobs: jobs.size, occurrences: 0, lost: 0, duplicated: 0, unexpected: 0, recovered: 0, parked: 0, evicted: 0, faults, fired: {}, ms: 0, databases: 0, steps: 0, phases: {}, problems: [] };
  const problem = (kind: "lost" | "duplicated" | "unexpected", text: string) => {
    report[kind]++;
    if (report.problems.length < 20) report.problems.push(`${kind}: ${text}`);
  };

  // Occurrences that ended in the parking queue are not lost: archived raw and listed in D1.
  const parkedIds = new Set(
    (await env.DB.prepare(`SELECT message_id FROM parked_messages WHERE message_id LIKE ?`).bind(`dlq-${options.seed}-%`).all<{ message_id: string }>()).results.map(
      (r) => r.message_id,
    ),
  );
  for (const job of jobs.values()) {
    for (const id of job.parked) {
      report.parked++;
      if (!parkedIds.has(id)) problem("lost", `${job.tenant}/${job.jobId}: parked message ${id} is not listed in D1`);
    }
  }

  const shards = new Set<string>();
  for (const tenant of tenants) {
    const stub = ledgerOf(tenant);
    const db = await shardIfAssigned(env, tenant);
    const d1 = db
      ? await db.prepare(`SELECT job_id, occurrences FROM failures WHERE tenant_id = ?`).bind(tenant).all<{ job_id: string; occurrences: number }>()
      : { results: [] };
    if (db) shards.add(db === env.DB ? "DB" : "DB_2");
    const inD1 = new Map(d1.results.map((r) => [r.job_id, r.occurrences]));
    const lines = new Map<string, number>();
    for (const object of (await env.ARCHIVE.list({ prefix: `${tenant}/` })).objects) {
      for (const line of (await (await env.ARCHIVE.get(object.key))!.text()).split("\n").filter(Boolean)) {
        const { jobId, occurrenceKey } = JSON.parse(line) as { jobId: string; occurrenceKey: string };
        const key = `${jobId}\n${occurrenceKey}`;
        lines.set(key, (lines.get(key) ?? 0) + 1);
      }
    }

    // What the ledger must hold of a job: its occurrences, and those of its parked ones it recorded (archived once).
    const parkedRecorded = (j: Job) => [...j.parkedKeys].filter((key) => (lines.get(`${j.jobId}\n${key}`) ?? 0) > 0).length;
    const owed = (j: Job) => j.occurrences.size + parkedRecorded(j);
    const expected = [...jobs.values()].filter((j) => j.tenant === tenant && owed(j) > 0);
    for (const job of expected) {
      report.occurrences += job.occurrences.size;
      const want = owed(job);
      for (const key of job.parkedKeys) {
        const count = lines.get(`${job.jobId}\n${key}`) ?? 0;
        if (count > 1) problem("duplicated", `${tenant}/${job.jobId} parked occurrence ${key} archived ${count} times`);
      }
      const live = await stub.getFailure(job.jobId);
      if (!live) {
        // Evicted by retention after it was flushed: D1 and R2 must still hold all of it.
        if (inD1.get(job.jobId) !== want) problem("lost", `${tenant}/${job.jobId} is not in the ledger, and D1 has ${inD1.get(job.jobId) ?? "no row"}`);
        else report.evicted++;
        continue;
      }
      if (live.occurrences < want) problem("lost", `${tenant}/${job.jobId}: ${live.occurrences} of ${want} occurrences in the ledger`);
      if (live.occurrences > want) problem("duplicated", `${tenant}/${job.jobId}: ${live.occurrences} occurrences for ${want} sent`);
      if (inD1.get(job.jobId) !== live.occurrences) problem("lost", `${tenant}/${job.jobId}: D1 has ${inD1.get(job.jobId) ?? "no row"}, the ledger ${live.occurrences}`);
      for (const key of job.occurrences) {
        const count = lines.get(`${job.jobId}\n${key}`) ?? 0;
        if (count === 0) problem("lost", `${tenant}/${job.jobId} occurrence ${key} is not archived in R2`);
        if (count > 1) problem("duplicated", `${tenant}/${job.jobId} occurrence ${key} archived ${count} times`);
      }
      if (live.status === "recovered" || live.status === "presumed_recovered") report.recovered++;
    }
    const known = new Set(expected.map((j) => j.jobId));
    for (const jobId of inD1.keys()) if (!known.has(jobId)) problem("unexpected", `${tenant}/${jobId} is in D1 but was never sent`);
    const stats = await stub.stats();
    if (stats.total !== expected.length) problem(stats.total > expected.length ? "unexpected" : "lost", `${tenant}: total ${stats.total} for ${expected.length} jobs`);
  }
  report.databases = shards.size;
  return report;
}
