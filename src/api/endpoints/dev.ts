// Local development only (DEV_ROUTES=true): enqueue demo jobs, or push any raw body to the DLQ.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { JobId, TenantId } from "../../capture/envelope";
import { DemoFailure, type DemoJob } from "../../demo/job";
import { decodeUtf8 } from "../../bytes";
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
    await env.JOBS.sendBatch(jobs.slice(i, i + 100).map((body) => ({ body })));
  }
  return new Response(JSON.stringify({ enqueued: jobs.length, queue: "jobs", jobIds: jobs.map((j) => j.jobId) }), {
    status: 202,
    headers: { "content-type": "application/json" },
  });
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
