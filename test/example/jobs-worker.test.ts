// examples/jobs-worker in workerd with real local queues and KV: its producer route, and its
// consumer running jobs through the packaged capture helper.

import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../examples/jobs-worker/src/index";
import type { Env as JobsEnv } from "../../examples/jobs-worker/src/env";
import type { Job } from "../../examples/jobs-worker/src/job";
import { recordRetries, watchedQueue } from "../support/queue";

/** The example's bindings, plus LEDGER: the stand-in dlq-ledger worker's control routes. */
const env = poolEnv as unknown as JobsEnv & { LEDGER: Fetcher };

// getQueueResult's type is only declared in the experimental workers types.
interface QueueResult {
  explicitAcks: string[];
  retryMessages: { msgId: string }[];
}

const tenant = () => `ex-${crypto.randomUUID().slice(0, 8)}`;
let seq = 0;
const msg = (body: unknown, attempts = 1): ServiceBindingQueueMessage<unknown> => ({
  id: `x-${++seq}`,
  timestamp: new Date(Date.now() - 30_000),
  attempts,
  body,
});
const job = (tenantId: string, jobId: string, fail: Job["fail"], extra: Partial<Job> = {}): Job => ({ tenantId, jobId, userId: "u-1", fail, ...extra });

/** Delivers a batch of `jobs` to the example's queue handler; its DLQ sends are watched. */
async function deliver(messages: ServiceBindingQueueMessage<unknown>[]) {
  const dlq = watchedQueue(env.DLQ);
  const batch = createMessageBatch("jobs", messages);
  const retries = recordRetries(batch as MessageBatch<unknown>);
  const ctx = createExecutionContext();
  await worker.queue(batch as MessageBatch<unknown>, { ...env, DLQ: dlq.queue }, ctx);
  const result = (await getQueueResult(batch, ctx)) as QueueResult;
  return { acked: result.explicitAcks, retried: result.retryMessages.map((r) => r.msgId), retries, sent: dlq.sent };
}

const post = async (path: string, init: RequestInit = {}) => {
  const request = new Request(`http://jobs-worker${path}`, init) as Request<unknown, IncomingRequestCfProperties>;
  const res = await worker.fetch(request, env);
  return { status: res.status, body: (await res.json()) as any };
};

describe("POST /jobs", () => {
  it("enqueues the jobs on `jobs` and answers with their ids", async () => {
    const t = tenant();
    const res = await post("/jobs", { method: "POST", body: JSON.stringify({ tenantId: t, jobId: "batch", count: 2, fail: "none" }) });
    expect(res).toEqual({ status: 202, body: { enqueued: 2, queue: "jobs", jobIds: ["batch-1", "batch-2"] } });
  });

  it("refuses what is not a job request, in one error shape, and serves nothing else", async () => {
    expect(await post("/jobs", { method: "POST", body: "{" })).toMatchObject({ status: 400, body: { error: { code: "invalid_json" } } });
    const invalid = await post("/jobs", { method: "POST", body: JSON.stringify({ tenantId: "_x", fail: "crash", succeedAfter: 1 }) });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual(["succeedAfter", "tenantId"]);
    expect(await post("/jobs")).toMatchObject({ status: 405, body: { error: { code: "method_not_allowed" } } });
    expect(await post("/elsewhere", { method: "POST" })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
  });
});

describe("the consumer", () => {
  it('acks jobs that do not fail ("none")', async () => {
    const t = tenant();
    const messages = [msg(job(t, "a", "none")), msg(job(t, "b", "none"), 4)];
    const { acked, retried } = await deliver(messages);
    expect(acked).toEqual(messages.map((m) => m.id));
    expect(retried).toEqual([]);
  });

  it("retries a failing job with backoff (1, 2, 4 s) and sends nothing before its last attempt", async () => {
    const t = tenant();
    const messages = [1, 2, 3].map((attempts) => msg(job(t, `r${attempts}`, { message: "upstream unavailable", status: 503 }), attempts));
    const { acked, retried, retries, sent } = await deliver(messages);
    expect(acked).toEqual([]);
    expect(retried).toEqual(messages.map((m) => m.id));
    expect(messages.map((m) => retries.get(m.id))).toEqual([[{ delaySeconds: 1 }], [{ delaySeconds: 2 }], [{ delaySeconds: 4 }]]);
    expect(sent).toEqual([]);
  });

  it("on the last attempt, sends a version 2 envelope with the error to jobs-dlq and acks", async () => {
    const t = tenant();
    const failing = msg(job(t, "charge-1", { message: "upstream unavailable", status: 503, code: "E_UP", name: "UpstreamError" }), 4);
    const { acked, sent } = await deliver([failing]);
    expect(acked).toEqual([failing.id]);
    expect(sent).toEqual([
      expect.objectContaining({
        v: 2,
        tenantId: t,
        jobId: "charge-1",
        userId: "u-1",
        queue: "jobs",
        attempts: 4,
        enqueuedAt: failing.timestamp.toISOString(),
        error: expect.objectContaining({ name: "UpstreamError", message: "upstream unavailable", status: 503, code: "E_UP" }),
      }),
    ]);
    // And it went out on the real queue, to dlq-ledger's consumer.
    await vi.waitFor(async () => {
      const letters = await (await env.LEDGER.fetch("http://ledger/dead-letters")).json<{ jobId: string }[]>();
      expect(letters.map((l) => l.jobId)).toContain("charge-1");
    });
  });

  it('retries a "crash", and a body that is not a job, without an envelope even on the last attempt', async () => {
    const t = tenant();
    const bad = [msg(job(t, "c1", "crash"), 1), msg(job(t, "c4", "crash"), 4), msg("not json at all", 4), msg({ tenantId: t, jobId: "x", fail: "explode" }, 4)];
    const good = msg(job(t, "fine", "none"));
    const { acked, retried, retries, sent } = await deliver([...bad, good]);
    expect(acked).toEqual([good.id]);
    expect(retried).toEqual(bad.map((m) => m.id));
    for (const m of bad) expect(retries.get(m.id)).toEqual([{ delaySeconds: 1 }]);
    expect(sent).toEqual([]);
  });

  it("fails a job's first n deliveries (counted across redeliveries), then succeeds and reports it to dlq-ledger", async () => {
    const t = tenant();
    const body = job(t, "flaky", { message: "upstream unavailable", status: 503 }, { succeedAfter: 2 });
    expect((await deliver([msg(body, 1)])).retried).toHaveLength(1);
    // A recovery retry from the ledger arrives as a new message (attempts start again at 1).
    expect((await deliver([msg(body, 1)])).retried).toHaveLength(1);
    const third = msg(body, 1);
    expect((await deliver([third])).acked).toEqual([third.id]);
    const reports = await (await env.LEDGER.fetch("http://ledger/reports")).json<{ tenantId: string; jobIds: string[] }[]>();
    expect(reports.filter((r) => r.tenantId === t)).toEqual([{ tenantId: t, jobIds: ["flaky"] }]);
  });
});
