import { env } from "cloudflare:workers";
import type { FailureInput } from "../../src/model";

let seq = 0;

/** A classified failure as the DLQ consumer would hand it to a ledger. */
export function failureInput(overrides: Partial<FailureInput> = {}): FailureInput {
  seq++;
  const at = overrides.lastFailedAt ?? Date.now() - 3600_000 + seq * 1000;
  return {
    jobId: `job-${seq}`,
    occurrenceKey: `occ-${seq}`,
    userId: "user-1",
    queue: "jobs",
    class: "SYSTEM_ERROR",
    reason: "server error status",
    fingerprint: "0123456789abcdef",
    error: { name: "Error", message: "internal error", status: 500 },
    body: JSON.stringify({ tenantId: "t", jobId: `job-${seq}` }),
    bodyEncoding: "json",
    attempts: 4,
    firstFailedAt: at,
    lastFailedAt: at,
    ...overrides,
  };
}

export function uniqueTenant(prefix = "t"): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

export function ledger(tenant: string) {
  return env.FAILURE_LEDGER.getByName(tenant);
}

/** One failure as the HTTP API serves it (body parsed), or null on 404. */
export async function servedFailure(tenant: string, jobId: string): Promise<Record<string, any> | null> {
  const { exports } = await import("cloudflare:workers");
  const res = await exports.default.fetch(
    `http://local/api/queue/dlq/failures/${encodeURIComponent(jobId)}?tenant=${encodeURIComponent(tenant)}`,
  );
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET failure ${jobId}: ${res.status} ${await res.text()}`);
  return res.json();
}
