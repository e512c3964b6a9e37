import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { armFault, disarmFaults } from "../../src/faults";
import { QUARANTINE_TENANT } from "../../src/model";
import { deliver, envelope, envelopeV1, message } from "../support/dlq";
import { ledger, servedFailure, uniqueTenant } from "../support/failures";

afterEach(() => disarmFaults());

describe("DLQ consumer", () => {
  it("records envelopes per tenant with one ledger call per tenant, then acks", async () => {
    const [a, b] = [uniqueTenant("a"), uniqueTenant("b")];
    const messages = [
      ...Array.from({ length: 30 }, (_, i) => message(envelope(a, `ja-${i}`))),
      ...Array.from({ length: 20 }, (_, i) => message(envelope(b, `jb-${i}`, { error: { name: "Error", message: "no such user", status: 404 } }))),
    ];
    const result = await deliver(messages);

    expect(result.explicitAcks.sort()).toEqual(messages.map((m) => m.id).sort());
    expect(result.retryMessages).toEqual([]);
    expect(await ledger(a).stats()).toMatchObject({ total: 30, batches: 1, byClass: { RECOVERABLE: 30 } });
    expect(await ledger(b).stats()).toMatchObject({ total: 20, batches: 1, byClass: { USER_ERROR: 20 } });
    expect(await servedFailure(a, "ja-7")).toMatchObject({
      tenantId: a,
      userId: "u-1",
      queue: "jobs",
      attempts: 4,
      reason: "retryable HTTP status",
      error: { message: "upstream timed out", status: 503 },
      body: { tenantId: a, jobId: "ja-7", payload: "x" },
    });
  });

  it("accepts the current envelope version (2) and the previous one (1), and quarantines any other", async () => {
    const tenant = uniqueTenant("versions");
    const enqueued = "2026-05-01T10:00:00.000Z";
    const last = "2026-05-01T10:00:07.000Z";
    const current = message(envelope(tenant, "v2", { enqueuedAt: enqueued, lastFailedAt: last, error: { name: "Error", message: "m", code: "E2" } }));
    // Version 1 carried the helper's own estimate of the first failure, and numeric codes.
    const previous = message(envelopeV1(tenant, "v1", { firstFailedAt: "2026-05-01T10:00:03.000Z", lastFailedAt: last, error: { name: "Error", message: "m", code: 42 } }));
    const future = message({ ...envelope(tenant, "v3"), v: 3 });
    const result = await deliver([current, previous, future]);
    expect(result.explicitAcks.sort()).toEqual([current.id, previous.id, future.id].sort());

    expect(await servedFailure(tenant, "v2")).toMatchObject({ firstFailedAt: enqueued, lastFailedAt: last, error: { code: "E2" } });
    expect(await servedFailure(tenant, "v1")).toMatchObject({ firstFailedAt: "2026-05-01T10:00:03.000Z", lastFailedAt: last, error: { code: "42" } });
    expect(await ledger(tenant).getFailure("v3")).toBeNull();
    const quarantined = await ledger(QUARANTINE_TENANT).getFailure(`msg:${future.id}`);
    expect(quarantined?.reason).toMatch(/^quarantined: malformed envelope/);
  });

  it("records a raw body the platform dead-lettered as UNKNOWN with no error context", async () => {
    const tenant = uniqueTenant();
    const result = await deliver([message({ tenantId: tenant, id: 77, userId: "u-9", task: "resize" })]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await servedFailure(tenant, "77")).toMatchObject({
      class: "UNKNOWN",
      reason: "no error context",
      error: null,
      userId: "u-9",
      body: { tenantId: tenant, id: 77, userId: "u-9", task: "resize" },
    });
  });

  it("quarantines what it cannot attribute, keeping the raw content", async () => {
    const before = (await ledger(QUARANTINE_TENANT).stats()).total;
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0x41]);
    const cases = [
      message("not json at all", "q-text"),
      message(bytes, "q-bytes"),
      message({ jobId: "j" }, "q-no-tenant"),
      message({ tenantId: "../etc/passwd", jobId: "j" }, "q-path"),
      message({ v: 1, error: { name: "E" }, tenantId: 5 }, "q-bad-envelope"),
      message([1, 2, 3], "q-array"),
    ];
    const result = await deliver(cases);
    expect(result.explicitAcks.sort()).toEqual(cases.map((m) => m.id).sort());

    const q = ledger(QUARANTINE_TENANT);
    expect((await q.stats()).total).toBe(before + cases.length);
    expect(await servedFailure(QUARANTINE_TENANT, "msg:q-text")).toMatchObject({ body: "not json at all", reason: "quarantined: body is not a JSON object" });
    expect(await servedFailure(QUARANTINE_TENANT, "msg:q-bytes")).toMatchObject({ body: "//4AQQ==", bodyEncoding: "base64", reason: "quarantined: body is not JSON" });
    expect((await servedFailure(QUARANTINE_TENANT, "msg:q-no-tenant"))?.reason).toBe("quarantined: no tenantId");
    expect((await servedFailure(QUARANTINE_TENANT, "msg:q-path"))?.reason).toBe("quarantined: invalid tenantId");
    expect((await servedFailure(QUARANTINE_TENANT, "msg:q-bad-envelope"))?.reason).toMatch(/^quarantined: malformed envelope \(/);
    expect(await servedFailure(QUARANTINE_TENANT, "msg:q-array")).toMatchObject({ body: [1, 2, 3], queue: "jobs-dlq", class: "UNKNOWN" });
  });

  it("retries only the tenant whose ledger failed, with the configured delay, and acks the rest", async () => {
    const [ok, broken] = [uniqueTenant("ok"), uniqueTenant("broken")];
    const okMessages = [message(envelope(ok, "j1")), message(envelope(ok, "j2"))];
    const brokenMessages = [message(envelope(broken, "j1")), message(envelope(broken, "j2"))];
    armFault("ledger.record.before-commit", { key: broken });

    const result = await deliver([okMessages[0]!, brokenMessages[0]!, okMessages[1]!, brokenMessages[1]!]);
    expect(result.explicitAcks.sort()).toEqual(okMessages.map((m) => m.id).sort());
    expect(result.retryMessages).toEqual(brokenMessages.map((m) => ({ msgId: m.id })));
    expect([...result.delays]).toEqual(brokenMessages.map((m) => [m.id, 10]));
    expect((await ledger(broken).stats()).total).toBe(0);

    const redelivered = await deliver(brokenMessages.map((m) => ({ ...m, attempts: 2 })));
    expect(redelivered.explicitAcks).toHaveLength(2);
    expect((await ledger(broken).stats()).total).toBe(2);
  });

  it("records a failure exactly once when the ledger committed but the call failed", async () => {
    const tenant = uniqueTenant();
    const messages = [message(envelope(tenant, "j1")), message({ tenantId: tenant, jobId: "raw-1" })];
    armFault("ledger.record.after-commit", { key: tenant });

    const first = await deliver(messages);
    expect(first.explicitAcks).toEqual([]);
    expect(first.retryMessages.map((r: { msgId: string }) => r.msgId)).toEqual(messages.map((m) => m.id));

    const second = await deliver(messages.map((m) => ({ ...m, attempts: 2 })));
    expect(second.explicitAcks).toHaveLength(2);
    expect(await ledger(tenant).stats()).toMatchObject({ total: 2, occurrences: 2, duplicates: 2 });
    expect((await ledger(tenant).getFailure("j1"))?.occurrences).toBe(1);
  });

  it("counts a message delivered twice in one batch once", async () => {
    const tenant = uniqueTenant();
    const m = message(envelope(tenant, "j1"));
    const result = await deliver([m, m]);
    expect(new Set(result.explicitAcks)).toEqual(new Set([m.id]));
    expect(await ledger(tenant).stats()).toMatchObject({ total: 1, occurrences: 1, duplicates: 1 });
  });

  it("applies operator rules from CLASSIFIER_RULES before the built-in table", async () => {
    const tenant = uniqueTenant();
    const rules = JSON.stringify([{ class: "RECOVERABLE", reason: "billing flaps", message: "^billing service" }]);
    const batch = createMessageBatch("jobs-dlq", [
      message(envelope(tenant, "j1", { error: { name: "Error", message: "billing service internal error", status: 500 } })),
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, { ...env, CLASSIFIER_RULES: rules }, ctx);
    await getQueueResult(batch, ctx);
    expect(await ledger(tenant).getFailure("j1")).toMatchObject({ class: "RECOVERABLE", reason: "billing flaps" });
  });
});
