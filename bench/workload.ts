// The failures the bench feeds both designs: enriched envelopes as the capture helper sends them,
// deterministic for a seed. A job keeps its error kind, so a repeat lands in the same group.

import type { FailureEnvelopeV1 as FailureEnvelope } from "@dlq-ledger/capture";
import { seeded as prng } from "../src/ledger/setup";

export const BATCH_SIZE = 100;

interface ErrorKind {
  weight: number;
  name: string;
  message: (n: number) => string;
  status?: number;
}

// Roughly the seed's four classes: 40 % transient (RECOVERABLE), 25 % caller mistakes
// (USER_ERROR), 25 % our faults (SYSTEM_ERROR), 10 % unclassified (UNKNOWN).
const KINDS: ErrorKind[] = [
  { weight: 25, name: "Error", status: 503, message: (n) => `upstream render service unavailable (attempt ${n % 7}), retry later` },
  { weight: 15, name: "TimeoutError", status: 504, message: (n) => `request to https://api.example.com/v2/reports/${n} timed out after 30000 ms` },
  { weight: 15, name: "ValidationError", status: 422, message: (n) => `invalid input: field "email" of record ${n} must be an email address` },
  { weight: 10, name: "NotFoundError", status: 404, message: (n) => `report ${n} not found` },
  { weight: 15, name: "Error", status: 500, message: (n) => `internal error: database connection reset (conn ${n % 32})` },
  { weight: 10, name: "Error", status: 502, message: () => `bad gateway from pdf-renderer` },
  { weight: 10, name: "RangeError", message: () => `Maximum call stack size exceeded` },
];
const TOTAL_WEIGHT = KINDS.reduce((n, k) => n + k.weight, 0);
const QUEUES = ["jobs", "emails", "exports"];

function kindOf(job: number): ErrorKind {
  // a fixed hash of the job number, so a job fails the same way every time
  let point = Math.imul(job ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  point %= TOTAL_WEIGHT;
  for (const k of KINDS) {
    if (point < k.weight) return k;
    point -= k.weight;
  }
  return KINDS[0]!;
}

const STACK = [
  "    at renderReport (src/jobs/render.ts:118:13)",
  "    at async processJob (src/jobs/index.ts:42:7)",
  "    at async Object.queue (src/index.ts:27:9)",
].join("\n");

export interface Workload {
  tenant: string;
  failures: number;
  /** share of failures that are a new occurrence of a job that already failed (0 … 1) */
  repeatRate: number;
  seed: number;
  /** simulated time of the first batch, and the gap between batches */
  startAt: number;
  batchIntervalMs: number;
  /** A repeat carries other fields than the occurrence before it (its body and error name the occurrence). */
  changing?: boolean;
}

export interface WorkloadBatch {
  index: number;
  at: number;
  messages: ServiceBindingQueueMessage<FailureEnvelope>[];
  /** jobs that failed for the first time in this batch */
  newJobs: number;
}

/** The workload as batches of 100 dead-letter messages, generated lazily. */
export function* batches(w: Workload): Generator<WorkloadBatch> {
  const random = prng(w.seed);
  const seen = new Map<number, number>();
  let jobs = 0;
  let sent = 0;
  for (let index = 0; sent < w.failures; index++) {
    const at = w.startAt + index * w.batchIntervalMs;
    const messages: ServiceBindingQueueMessage<FailureEnvelope>[] = [];
    let newJobs = 0;
    for (let i = 0; i < BATCH_SIZE && sent < w.failures; i++, sent++) {
      const repeat = jobs > 0 && random() < w.repeatRate;
      const job = repeat ? Math.floor(random() * jobs) : jobs++;
      if (!repeat) newJobs++;
      // each occurrence gets its own time (and so its own occurrence key)
      const lastFailedAt = new Date(at - (BATCH_SIZE - i));
      const occurrence = (seen.get(job) ?? 0) + 1;
      if (w.changing) seen.set(job, occurrence);
      messages.push({
        id: `${w.tenant}-m${sent}`,
        timestamp: lastFailedAt,
        attempts: 1,
        body: envelope(w.tenant, job, lastFailedAt, w.changing ? occurrence : undefined),
      });
    }
    yield { index, at, messages, newJobs };
  }
}

/** A job's failure; an `occurrence` number, when given, goes into its body and error message. */
export function envelope(tenant: string, job: number, lastFailedAt: Date, occurrence?: number): FailureEnvelope {
  const kind = kindOf(job);
  const message = occurrence === undefined ? kind.message(job) : `${kind.message(job)} (occurrence ${occurrence})`;
  const jobId = `job-${job.toString(36).padStart(6, "0")}`;
  const userId = `user-${job % 997}`;
  return {
    v: 1,
    tenantId: tenant,
    jobId,
    userId,
    queue: QUEUES[job % QUEUES.length]!,
    // about 400 bytes of job body: the shape of a typical report-rendering job
    body: {
      tenantId: tenant,
      jobId,
      type: "render-report",
      reportId: `rpt_${job}`,
      requestedBy: userId,
      format: job % 2 ? "pdf" : "csv",
      filters: { from: "2026-01-01", to: "2026-03-31", region: ["eu-west", "us-east"][job % 2], minAmount: job % 500 },
      columns: ["date", "customer", "invoice", "amount", "currency", "status", "owner"],
      notes: "Quarterly revenue report for the finance team, grouped by region and customer segment.",
      ...(occurrence === undefined ? {} : { occurrence }),
    },
    error: {
      name: kind.name,
      message,
      ...(kind.status === undefined ? {} : { status: kind.status }),
      stack: `${kind.name}: ${message}\n${STACK}`,
    },
    attempts: 4,
    firstFailedAt: new Date(lastFailedAt.getTime() - 90_000).toISOString(),
    lastFailedAt: lastFailedAt.toISOString(),
  };
}
