import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { FailureLedger } from "../../src/failure-ledger";
import type { FailureInput } from "../../src/model";
import { FUTURE, failureInput } from "./failures";


/** The origin queue tests retry into; ORIGIN_QUEUES in vitest.config.ts maps it to the receiver. */
export const ORIGIN = "recovery-test";

export function recoverable(tenant: string, jobId: string, overrides: Partial<FailureInput> = {}): FailureInput {
  return failureInput({
    jobId,
    queue: ORIGIN,
    class: "RECOVERABLE",
    reason: "retryable HTTP status",
    fingerprint: "aaaaaaaaaaaaaaaa",
    error: { name: "Error", message: "upstream 503", status: 503 },
    body: JSON.stringify({ tenantId: tenant, jobId }),
    lastFailedAt: FUTURE,
    firstFailedAt: FUTURE,
    ...overrides,
  });
}

type Stub = DurableObjectStub<FailureLedger>;

/** When each job's next retry is due (ms), from the due-work table. */
export async function dueRetries(stub: Stub): Promise<Record<string, number>> {
  return runInDurableObject(stub, (_i: FailureLedger, state) =>
    Object.fromEntries(
      state.storage.sql
        .exec<{ key: string; due_at: number }>(`SELECT key, due_at FROM due_work WHERE kind = 'retry'`)
        .toArray()
        .map((r) => [r.key, r.due_at]),
    ),
  );
}

/** Runs the alarm with the ledger's clock at `at` (the platform would run it at its due time). */
export async function alarmAt(stub: Stub, at: number): Promise<boolean> {
  await stub.tune({ now: at });
  await runInDurableObject(stub, (_i: FailureLedger, state) => state.storage.setAlarm(at));
  return runDurableObjectAlarm(stub);
}

/** Bodies the origin queue's consumer received for this tenant, in arrival order. */
export async function received(tenant: string): Promise<{ tenantId: string; jobId: string }[]> {
  const all = await (await env.RECEIVER.fetch("http://receiver/received")).json<{ body: { tenantId: string; jobId: string } }[]>();
  return all.map((r) => r.body).filter((b) => b && b.tenantId === tenant);
}
