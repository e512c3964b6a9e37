// The demo consumer of the `jobs` queue: runs each DemoJob through withFailureCapture, so a job
// that fails for good reaches jobs-dlq as an enriched envelope. A "crash" (or a body that is not
// a DemoJob) fails past the helper instead, the way a real crash would: the platform retries
// it and finally dead-letters the raw body, without error context.

import { withFailureCapture } from "../capture";
import { readConfig } from "../config";
import { reportSucceeded } from "../service";
import { DemoJob } from "./job";

/** Must equal max_retries of the `jobs` consumer in wrangler.toml. */
const MAX_RETRIES = 3;

export class DemoJobError extends Error {
  readonly status?: number;
  readonly code?: string;

  constructor(fail: { message: string; status?: number; code?: string; name?: string }) {
    super(fail.message);
    this.name = fail.name ?? "Error";
    if (fail.status !== undefined) this.status = fail.status;
    if (fail.code !== undefined) this.code = fail.code;
  }
}

export async function runDemoJob(job: DemoJob, env: Env): Promise<void> {
  if (job.fail === "crash") throw new Error("a crash is not run: it fails past the capture helper");
  if (job.succeedAfter !== undefined) {
    const delivery = await countDelivery(env, job);
    if (delivery > job.succeedAfter) return;
    throw new DemoJobError(job.fail === "none" ? { message: `demo: failing until delivery ${job.succeedAfter + 1}`, status: 503 } : job.fail);
  }
  if (job.fail === "none") return;
  throw new DemoJobError(job.fail);
}

async function countDelivery(env: Env, job: DemoJob): Promise<number> {
  const row = await env.DB.prepare(
    `INSERT INTO demo_deliveries (tenant_id, job_id, deliveries) VALUES (?, ?, 1)
     ON CONFLICT (tenant_id, job_id) DO UPDATE SET deliveries = deliveries + 1 RETURNING deliveries`,
  )
    .bind(job.tenantId, job.jobId)
    .first<{ deliveries: number }>();
  return row?.deliveries ?? 1;
}

export async function consumeDemoJobs(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const base = readConfig(env).demoBackoffBaseSeconds;
  const jobs: Message<DemoJob>[] = [];
  for (const message of batch.messages) {
    const parsed = DemoJob.safeParse(message.body);
    if (!parsed.success || parsed.data.fail === "crash") message.retry({ delaySeconds: base });
    else jobs.push(message as Message<DemoJob>);
  }

  const capture = withFailureCapture<DemoJob, Env>((message) => runDemoJob(message.body, env), {
    deadLetterQueue: (e) => e.DLQ,
    maxRetries: MAX_RETRIES,
    backoff: { baseSeconds: base },
    // In a user's worker this is their service binding to DlqLedgerService; here it is the same code, in-process.
    reportSuccess: (e) => ({ reportSucceeded: (tenantId, jobIds) => reportSucceeded(e, tenantId, jobIds) }),
  });
  await capture({ queue: batch.queue, messages: jobs }, env, ctx);
}
