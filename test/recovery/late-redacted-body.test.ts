// A retry sends the body the failure keeps, which a late occurrence (dated before the latest)
// does not replace. When that body was redacted and its sealed original is gone (the job was
// recovered), the late occurrence must not schedule a retry that sends the redacted copy.

import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { seal } from "../../src/ingest/seal";
import { ledger, uniqueTenant } from "../support/failures";
import { alarmAt, dueRetries, received, recoverable } from "../support/recovery";

const T = Date.UTC(2035, 0, 1);

it("does not retry a redacted body whose original is no longer kept, when a late occurrence arrives", async () => {
  const tenant = uniqueTenant("late-redacted");
  const stub = ledger(tenant);
  await stub.tune({ now: T, flushDelayMs: 0, recovery: { defaults: { baseSeconds: 1, capSeconds: 1, maxAttempts: 3 } } });
  const original = JSON.stringify({ tenantId: tenant, jobId: "x", password: "hunter2" });
  const redacted = JSON.stringify({ tenantId: tenant, jobId: "x", password: "[REDACTED]" });
  const sealedBody = await seal(env.RETRY_SEAL_KEY!, original);
  await stub.record([recoverable(tenant, "x", { occurrenceKey: "a", body: redacted, bodyRedacted: true, sealedBody, lastFailedAt: T, firstFailedAt: T })]);
  expect(await stub.reportSucceeded(["x"])).toEqual(["x"]); // the sealed original goes with it

  // dated a minute before the one recorded: the stored body stays the redacted one
  await stub.record([recoverable(tenant, "x", { occurrenceKey: "b", lastFailedAt: T - 60_000, firstFailedAt: T - 60_000 })]);
  const failure = await stub.getFailure("x");
  expect(failure).toMatchObject({ status: "open", body: redacted, recovery: { note: expect.stringMatching(/redacted/) } });
  expect(await dueRetries(stub)).toEqual({});

  await alarmAt(stub, T + 2000);
  await new Promise((resolve) => setTimeout(resolve, 500));
  expect(await received(tenant)).toEqual([]);
});

it("still retries a late occurrence when the body kept can be sent (its original sealed)", async () => {
  const tenant = uniqueTenant("late-sealed");
  const stub = ledger(tenant);
  await stub.tune({ now: T, flushDelayMs: 0, recovery: { defaults: { baseSeconds: 1, capSeconds: 1, maxAttempts: 3 } } });
  const original = JSON.stringify({ tenantId: tenant, jobId: "y", password: "hunter2" });
  const redacted = JSON.stringify({ tenantId: tenant, jobId: "y", password: "[REDACTED]" });
  const sealedBody = await seal(env.RETRY_SEAL_KEY!, original);
  await stub.record([recoverable(tenant, "y", { occurrenceKey: "a", class: "USER_ERROR", body: redacted, bodyRedacted: true, sealedBody, lastFailedAt: T, firstFailedAt: T })]);
  await stub.record([recoverable(tenant, "y", { occurrenceKey: "b", lastFailedAt: T - 60_000, firstFailedAt: T - 60_000 })]);
  expect(await stub.getFailure("y")).toMatchObject({ status: "retrying" });
  expect(Object.keys(await dueRetries(stub))).toEqual(["y"]);
});
