import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { armFault, disarmFaults } from "../../src/faults";
import { LEDGER_WAIT, recordRetries, sendSeamUntouched } from "../support/queue";
import type { DemoJob } from "../../src/demo/job";
import { reportSucceeded } from "../../src/service";
import { failureInput, runFlush } from "../support/failures";

// getQueueResult's type is only declared in the experimental workers types.
interface QueueResult {
  explicitAcks: string[];
  retryMessages: { msgId: string }[];
}

const tenant = () => `demo-${crypto.randomUUID().slice(0, 8)}`;
let seq = 0;
const msg = (body: unknown, attempts = 1): ServiceBindingQueueMessage<unknown> => ({
  id: `d-${++seq}`,
  timestamp: new Date(Date.now() - 30_000),
  attempts,
  body,
});
const job = (tenantId: string, jobId: string, fail: DemoJob["fail"]): DemoJob => ({ tenantId, jobId, userId: "u-1", fail });

/** Delivers a batch of the demo queue `jobs` through the worker's queue handler. */
async function deliver(messages: ServiceBindingQueueMessage<unknown>[]) {
  const batch = createMessageBatch("jobs", messages);
  const retries = recordRetries(batch as MessageBatch<unknown>);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  const result = (await getQueueResult(batch, ctx)) as QueueResult;
  return { acked: result.explicitAcks, retried: result.retryMessages.map((r) => r.msgId), retries };
}

afterEach(() => disarmFaults());

describe("demo consumer", () => {
  it('acks jobs that do not fail ("none")', async () => {
    const t = tenant();
    const messages = [msg(job(t, "a", "none")), msg(job(t, "b", "none"), 4)];
    const { acked, retried } = await deliver(messages);
    expect(acked).toEqual(messages.map((m) => m.id));
    expect(retried).toEqual([]);
  });

  it("retries a failing job with the configured backoff (DEMO_BACKOFF_BASE_SECONDS = 1)", async () => {
    armFault("capture.send");
    const t = tenant();
    const fail = { message: "upstream unavailable", status: 503 };
    const messages = [1, 2, 3].map((attempts) => msg(job(t, `r${attempts}`, fail), attempts));
    const { acked, retried, retries } = await deliver(messages);
    expect(acked).toEqual([]);
    expect(retried).toEqual(messages.map((m) => m.id));
    expect(messages.map((m) => retries.get(m.id))).toEqual([[{ delaySeconds: 1 }], [{ delaySeconds: 2 }], [{ delaySeconds: 4 }]]);
    expect(sendSeamUntouched()).toBe(true);
  });

  it("on its last attempt, a failing job reaches the ledger with its error, classified by status", LEDGER_WAIT, async () => {
    const t = tenant();
    const failing = msg(job(t, "charge-1", { message: "upstream unavailable", status: 503, code: "E_UP", name: "UpstreamError" }), 4);
    const missing = msg(job(t, "charge-2", { message: "no such card", status: 404 }), 4);
    const { acked, retried } = await deliver([failing, missing]);
    expect(acked).toEqual([failing.id, missing.id]);
    expect(retried).toEqual([]);

    const ledger = env.FAILURE_LEDGER.getByName(t);
    const [first, second] = await vi.waitFor(
      async () => {
        const found = await Promise.all([ledger.getFailure("charge-1"), ledger.getFailure("charge-2")]);
        if (found.some((f) => f === null)) throw new Error("not in the ledger yet");
        return found;
      },
      { timeout: 10_000, interval: 100 },
    );
    expect(first).toMatchObject({
      tenantId: t,
      userId: "u-1",
      queue: "jobs",
      class: "RECOVERABLE",
      attempts: 4,
      error: { name: "UpstreamError", message: "upstream unavailable", status: 503, code: "E_UP" },
    });
    expect(second).toMatchObject({ class: "USER_ERROR", error: { name: "Error", message: "no such card", status: 404 } });
    expect(await ledger.stats()).toMatchObject({ total: 2, byClass: { RECOVERABLE: 1, USER_ERROR: 1 } });
  });

  it('retries a "crash" (even on its last attempt) without an envelope, leaving it to the platform', async () => {
    armFault("capture.send");
    const t = tenant();
    const crashes = [msg(job(t, "c1", "crash"), 1), msg(job(t, "c4", "crash"), 4)];
    const { acked, retried, retries } = await deliver(crashes);
    expect(acked).toEqual([]);
    expect(retried).toEqual(crashes.map((m) => m.id));
    for (const m of crashes) expect(retries.get(m.id)).toEqual([{ delaySeconds: 1 }]);
    expect(sendSeamUntouched()).toBe(true);
  });

  it("treats a body that is not a DemoJob as a crash, and still runs the rest of the batch", async () => {
    armFault("capture.send");
    const t = tenant();
    const bad = [msg("not json at all", 4), msg({ tenantId: t, jobId: "x", fail: "explode" }, 4), msg({ jobId: "no-tenant", fail: "none" })];
    const good = msg(job(t, "fine", "none"));
    const { acked, retried, retries } = await deliver([...bad, good]);
    expect(acked).toEqual([good.id]);
    expect(retried).toEqual(bad.map((m) => m.id));
    for (const m of bad) expect(retries.get(m.id)).toEqual([{ delaySeconds: 1 }]);
    expect(sendSeamUntouched()).toBe(true);
  });
});

describe("succeedAfter and success reports", () => {
  it("fails a job's first n deliveries, then succeeds and reports it: its failure becomes recovered", async () => {
    const t = tenant();
    const stub = env.FAILURE_LEDGER.getByName(t);
    // The job already failed for good once and is in the ledger (and, flushed, in D1).
    await stub.record([failureInput({ jobId: "flaky", class: "RECOVERABLE", queue: "jobs" })]);
    await runFlush(stub);

    const body = { ...job(t, "flaky", { message: "upstream unavailable", status: 503 }), succeedAfter: 2 };
    expect((await deliver([msg(body, 1)])).retried).toHaveLength(1);
    expect((await deliver([msg(body, 2)])).retried).toHaveLength(1);
    const third = msg(body, 3);
    expect((await deliver([third])).acked).toEqual([third.id]);

    expect(await stub.getFailure("flaky")).toMatchObject({ status: "recovered" });
    expect((await stub.history("flaky"))[0]).toMatchObject({ action: "recovered", actor: "capture-helper" });
  });

  it("reports through the DlqLedgerService entrypoint, and wakes no ledger for jobs that never failed", async () => {
    const t = tenant();
    const stub = env.FAILURE_LEDGER.getByName(t);
    await stub.record([failureInput({ jobId: "known", class: "USER_ERROR", queue: "jobs" })]);
    await runFlush(stub);
    const service = (exports as unknown as { DlqLedgerService: { reportSucceeded(t: string, ids: string[]): Promise<string[]> } }).DlqLedgerService;
    expect(await service.reportSucceeded(t, ["known", "never-failed"])).toEqual(["known"]);
    expect(await service.reportSucceeded(tenant(), ["nothing", "here"])).toEqual([]);
    // (Called in-process: an error thrown across the RPC boundary is reported as unhandled by the test pool.)
    await expect(reportSucceeded(env, "../bad", ["x"])).rejects.toThrow(/^reportSucceeded: tenantId/);
  });
});

describe("demo loop in the local runtime (real queues, retries and dead-lettering)", () => {
  // Slow by nature: the platform runs 4 attempts with 1 + 2 + 4 s of backoff before dead-lettering.
  it("a failing job arrives as an envelope after its retries; a crash arrives raw, without error context", { timeout: 60_000 }, async () => {
    const t = tenant();
    await env.JOBS.sendBatch([
      { body: job(t, "loop-fails", { message: "upstream unavailable", status: 503 }) },
      { body: job(t, "loop-crash", "crash") },
    ]);
    const ledger = env.FAILURE_LEDGER.getByName(t);
    const [fails, crash] = await vi.waitFor(
      async () => {
        const found = await Promise.all([ledger.getFailure("loop-fails"), ledger.getFailure("loop-crash")]);
        if (found.some((f) => f === null)) throw new Error("not in the ledger yet");
        return found;
      },
      { timeout: 50_000, interval: 200 },
    );
    expect(fails).toMatchObject({ class: "RECOVERABLE", attempts: 4, error: { message: "upstream unavailable", status: 503 } });
    expect(Date.parse(fails!.lastFailedAt)).toBeGreaterThan(Date.parse(fails!.firstFailedAt));
    expect(crash).toMatchObject({ class: "UNKNOWN", reason: "no error context", error: null, queue: "jobs" });
  });
});

describe("POST /dev/jobs when the queue refuses a send", () => {
  it("answers 503 in the one error shape, naming the jobs enqueued before the refusal", async () => {
    // The third batch of 100 is refused, as the local broker refuses past 10,000 delayed messages.
    armFault("demo.send", { key: "200" });
    const res = await exports.default.fetch("http://local/dev/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenantId: tenant(), jobId: "refused", count: 250, fail: "none" }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("5");
    const { error } = await res.json<{ error: { code: string; message: string; details: { enqueued: number; requested: number; jobIds: string[] } } }>();
    expect(error.code).toBe("send_failed");
    expect(error.message).toContain("after 200 of 250 jobs");
    expect(error.message).toContain("Send fewer jobs at a time, or wait");
    expect(error.details.enqueued).toBe(200);
    expect(error.details.requested).toBe(250);
    expect(error.details.jobIds).toEqual(Array.from({ length: 200 }, (_, i) => `refused-${i + 1}`));
  });
});
