// Runs one demo job. A failure is thrown as an error carrying an HTTP status and a code, the way
// a real job's fetch or SDK error would: the capture helper puts both in the envelope.

import type { Env } from "./env";
import type { Job } from "./job";

export class JobError extends Error {
  readonly status?: number;
  readonly code?: string;

  constructor(fail: { message: string; status?: number; code?: string; name?: string }) {
    super(fail.message);
    this.name = fail.name ?? "Error";
    if (fail.status !== undefined) this.status = fail.status;
    if (fail.code !== undefined) this.code = fail.code;
  }
}

export async function runJob(job: Job, env: Env): Promise<void> {
  if (job.succeedAfter !== undefined) {
    if ((await countDelivery(env, job)) > job.succeedAfter) return;
    throw new JobError(job.fail === "none" || job.fail === "crash" ? { message: `demo: failing until delivery ${job.succeedAfter + 1}`, status: 503 } : job.fail);
  }
  if (job.fail === "none") return;
  if (job.fail === "crash") throw new Error("unreachable: crashes never reach runJob");
  throw new JobError(job.fail);
}

/** This delivery's number (1 for the first), counting the ledger's recovery retries too. */
async function countDelivery(env: Env, job: Job): Promise<number> {
  // KV is eventually consistent across locations: good enough for a demo counter, not for money.
  const key = `${job.tenantId}/${job.jobId}`;
  const delivery = Number((await env.DELIVERIES.get(key)) ?? "0") + 1;
  await env.DELIVERIES.put(key, String(delivery), { expirationTtl: 86_400 });
  return delivery;
}
