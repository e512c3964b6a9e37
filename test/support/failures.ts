import { env } from "cloudflare:workers";
import { shardFor } from "../../src/sinks/shards";
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

/** The D1 database holding a tenant's failures (assigned on first use, as a flush would). */
export function d1Of(tenant: string): Promise<D1Database> {
  return shardFor(env, tenant);
}

export function ledger(tenant: string) {
  return env.FAILURE_LEDGER.getByName(tenant);
}

/** One failure as the HTTP API serves it (body parsed), or null on 404. */
export async function servedFailure(tenant: string, jobId: string): Promise<Record<string, any> | null> {
  const { apiFetch } = await import("./api");
  const res = await apiFetch(`/api/queue/dlq/failures/${encodeURIComponent(jobId)}?tenant=${encodeURIComponent(tenant)}`);
  if (res.status === 404) return null;
  if (res.status !== 200) throw new Error(`GET failure ${jobId}: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * A time far enough ahead that alarms the ledger sets from it never fire on their own during a
 * test: the test runs them with runDurableObjectAlarm, deterministically.
 */
export const FUTURE = Date.now() + 365 * 24 * 3600_000;

/** Sets the ledger's clock, jitter seed or settings through its dev-only `tune` RPC. */
export async function tuneLedger(stub: DurableObjectStub<import("../../src/failure-ledger").FailureLedger>, tune: import("../../src/ledger/setup").Tuning) {
  await stub.tune(tune);
}

/** Runs the ledger's alarm as the platform would: with the ledger's clock at the alarm's time. */
export async function runFlush(stub: DurableObjectStub<import("../../src/failure-ledger").FailureLedger>): Promise<boolean> {
  const { runDurableObjectAlarm } = await import("cloudflare:test");
  const at = await alarmTime(stub);
  if (at !== null) await stub.tune({ now: at });
  return runDurableObjectAlarm(stub);
}

/** Runs the alarm until the outbox is empty: due work comes in time order, and a flush may not be first. */
export async function flushAll(stub: DurableObjectStub<import("../../src/failure-ledger").FailureLedger>): Promise<void> {
  for (let run = 0; run < 10 && (await stub.stats()).outbox.pendingRows > 0; run++) await runFlush(stub);
  if ((await stub.stats()).outbox.pendingRows > 0) throw new Error("the outbox did not empty in 10 alarm runs");
}

/** When the ledger's alarm is set to ring, or null. */
export async function alarmTime(stub: DurableObjectStub<import("../../src/failure-ledger").FailureLedger>): Promise<number | null> {
  const { runInDurableObject } = await import("cloudflare:test");
  return runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
}
