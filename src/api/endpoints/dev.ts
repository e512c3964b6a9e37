// Local development only (DEV_ROUTES=true): enqueue demo jobs, or push any raw body to the DLQ.

import type { IRequest } from "itty-router";
import { decodeUtf8 } from "../../bytes";
import { ErrorBody } from "../../contract/errors";
import { ApiError } from "../errors";
import { readBodyBytes } from "../validate";

/**
 * POST /dev/jobs is the example worker's producer route (examples/jobs-worker, POST /jobs),
 * served on this address: `npm start` runs both workers and binds it here as JOBS_WORKER.
 * Its answer (status and JSON) is passed on; its errors in this API's one error shape.
 */
export async function forwardDemoJobs(request: IRequest, env: Env): Promise<Record<string, unknown>> {
  const worker = env.JOBS_WORKER;
  if (!worker) {
    throw new ApiError(503, "unavailable", "the example worker (examples/jobs-worker) is not bound as JOBS_WORKER: start both workers with `npm start`");
  }
  const bytes = await readBodyBytes(request, 64 * 1024);
  const res = await worker.fetch("http://jobs-worker/jobs", {
    method: "POST",
    headers: { "content-type": request.headers.get("content-type") ?? "application/json" },
    body: bytes,
  });
  const payload: unknown = await res.json().catch(() => null);
  if (res.ok && typeof payload === "object" && payload !== null) return payload as Record<string, unknown>;
  const error = ErrorBody.safeParse(payload);
  const headers = res.headers.get("retry-after") ? { "retry-after": res.headers.get("retry-after")! } : undefined;
  if (error.success) throw new ApiError(res.status, error.data.error.code, error.data.error.message, error.data.error.details, headers);
  throw new ApiError(503, "unavailable", `the example worker failed: it answered ${res.status} without a JSON body (its log says why)`);
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
