// Local development only (DEV_ROUTES=true): enqueue demo jobs, or push any raw body to the DLQ.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { JobId, TenantId } from "../../capture/envelope";
import { DemoFailure, type DemoJob } from "../../demo/job";
import { decodeUtf8 } from "../../bytes";
import { faultPoint } from "../../faults";
import { ApiError } from "../errors";
import { readBodyBytes, readJson } from "../validate";

export const DemoJobsRequest = z
  .object({
    tenantId: TenantId,
    jobId: JobId.optional(),
    userId: z.string().min(1).max(256).optional(),
    count: z.number().int().min(1).max(1000).default(1),
    fail: DemoFailure,
    succeedAfter: z.number().int().min(0).max(100).optional(),
  })
  .strict()
  .refine((r) => r.succeedAfter === undefined || r.fail !== "crash", { message: "succeedAfter does not apply to crashes", path: ["succeedAfter"] });

export async function postDemoJobs(request: IRequest, env: Env) {
  const input = await readJson(request, DemoJobsRequest);
  const jobs: DemoJob[] = Array.from({ length: input.count }, (_, i) => ({
    tenantId: input.tenantId,
    jobId: input.jobId ? (input.count === 1 ? input.jobId : `${input.jobId}-${i + 1}`) : `job-${crypto.randomUUID()}`,
    userId: input.userId,
    fail: input.fail,
    ...(input.succeedAfter === undefined ? {} : { succeedAfter: input.succeedAfter }),
  }));
  for (let i = 0; i < jobs.length; i += 100) {
    try {
      faultPoint("demo.send", String(i));
      await env.JOBS.sendBatch(jobs.slice(i, i + 100).map((body) => ({ body })));
    } catch (error) {
      throw queueRefused(error, jobs, i);
    }
  }
  return new Response(JSON.stringify({ enqueued: jobs.length, queue: "jobs", jobIds: jobs.map((j) => j.jobId) }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}

/**
 * The queue refused a send (over its rate or backlog limit; locally, past 10,000 delayed messages):
 * the batches before it are on the queue, this one and the rest are not.
 */
function queueRefused(error: unknown, jobs: DemoJob[], accepted: number): ApiError {
  const reason = error instanceof Error ? error.message : String(error);
  console.error(`dev/jobs: the queue refused a send after ${accepted} of ${jobs.length} jobs`, error);
  return new ApiError(
    503,
    "send_failed",
    `The demo queue refused the send after ${accepted} of ${jobs.length} jobs (${reason}). ` +
      `The first ${accepted} are enqueued; the other ${jobs.length - accepted} are not. ` +
      `Send fewer jobs at a time, or wait for the queue to drain (its retries to run down), then send the rest.`,
    { enqueued: accepted, requested: jobs.length, jobIds: jobs.slice(0, accepted).map((j) => j.jobId) },
    { "retry-after": "5" },
  );
}

/** JSON goes to the DLQ as JSON; anything else as the exact bytes received. */
export async function postRawDeadLetter(request: IRequest, env: Env) {
  const bytes = await readBodyBytes(request, 128 * 1024);
  const text = decodeUtf8(bytes);
  let parsed: { ok: true; value: unknown } | { ok: false } = { ok: false };
  try {
    if (text !== null) parsed = { ok: true, value: JSON.parse(text) };
  } catch {
    // not JSON: sent as bytes below
  }
  // Read the size first: sending bytes detaches their buffer.
  const size = bytes.byteLength;
  if (parsed.ok) await env.DLQ.send(parsed.value, { contentType: "json" });
  else await env.DLQ.send(bytes, { contentType: "bytes" });
  return new Response(JSON.stringify({ sent: true, bytes: size, as: parsed.ok ? "json" : "bytes" }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
}
