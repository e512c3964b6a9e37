import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
// The capture helper as users get it: the built @dlq-ledger/capture package (dist/), checked
// against the DLQ consumer's validator and the real ledger behind the real dead-letter queue.
import { ENVELOPE_VERSION, backoffSeconds, buildEnvelope, withFailureCapture, type FailureCaptureOptions } from "@dlq-ledger/capture";
import { FailureEnvelope, firstFailedAt } from "../../src/envelope";
import { LEDGER_WAIT, SendRefused, recordRetries, watchedQueue } from "../support/queue";
import type { FailureDetail } from "../../src/ledger/store/pages";

type Body = Record<string, unknown>;
type TestMessage = ServiceBindingQueueMessage<Body> & { body: Body };

// getQueueResult's type is only declared in the experimental workers types.
interface QueueResult {
  explicitAcks: string[];
  retryMessages: { msgId: string }[];
}

const tenant = () => `cap-${crypto.randomUUID().slice(0, 8)}`;
let seq = 0;
/** `body` may be anything a producer could send; most tests send an object. */
const msg = (body: unknown, attempts = 1, timestamp = new Date(Date.now() - 60_000)): TestMessage => ({
  id: `m-${++seq}`,
  timestamp,
  attempts,
  body: body as Body,
});

class HttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    readonly code?: string | number,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/**
 * Runs a wrapped handler on a test batch. getQueueResult does not report retry delays, so each
 * message's retry() calls are recorded on the way to the real one.
 */
async function run(messages: TestMessage[], handle: (message: Message<Body>) => unknown, options: Partial<FailureCaptureOptions<Body, Env>> = {}) {
  const batch = createMessageBatch<Body>("jobs", messages);
  const retries = recordRetries(batch as MessageBatch<unknown>);
  const ctx = createExecutionContext();
  const handler = withFailureCapture<Body, Env>(handle, { deadLetterQueue: (e) => e.DLQ, ...options });
  const outcome = await handler(batch, env, ctx).then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  const result = (await getQueueResult(batch, ctx)) as QueueResult;
  return { outcome, acked: result.explicitAcks, retried: result.retryMessages.map((r) => r.msgId), retries };
}

const fail = (error: unknown) => () => {
  throw error;
};

/** Polls the tenant's ledger until the DLQ consumer (running in the background) has recorded the job. */
async function recorded(tenantId: string, jobId: string): Promise<FailureDetail> {
  return vi.waitFor(
    async () => {
      const failure = await env.FAILURE_LEDGER.getByName(tenantId).getFailure(jobId);
      if (!failure) throw new Error(`${tenantId}/${jobId} not in the ledger yet`);
      return failure;
    },
    { timeout: 10_000, interval: 100 },
  );
}

describe("withFailureCapture: settling messages", () => {
  it("acks every message the handler processes, passing message, env and ctx", async () => {
    const messages = [msg({ n: 1 }), msg({ n: 2 })];
    const seen: unknown[] = [];
    const { outcome, acked, retried } = await run(messages, (m) => void seen.push(m.body.n));
    expect(outcome).toEqual({ ok: true });
    expect(acked).toEqual(messages.map((m) => m.id));
    expect(retried).toEqual([]);
    expect(seen).toEqual([1, 2]);
  });

  it("awaits async handlers before acking", async () => {
    const order: string[] = [];
    const { acked, retried } = await run([msg({})], async () => {
      await Promise.resolve();
      order.push("handled");
      throw new Error("late failure");
    });
    expect(order).toEqual(["handled"]);
    expect(acked).toEqual([]);
    expect(retried).toHaveLength(1);
  });

  it("retries failures before the last attempt with exponential backoff (5 s base by default)", async () => {
    const dlq = watchedQueue(env.DLQ);
    const messages = [1, 2, 3].map((attempts) => msg({ tenantId: tenant(), jobId: "j" }, attempts));
    const { outcome, acked, retried, retries } = await run(messages, fail(new Error("boom")), { deadLetterQueue: () => dlq.queue }); // maxRetries 3: attempt 4 is last
    expect(outcome).toEqual({ ok: true });
    expect(acked).toEqual([]);
    expect(retried).toEqual(messages.map((m) => m.id));
    expect(messages.map((m) => retries.get(m.id))).toEqual([[{ delaySeconds: 5 }], [{ delaySeconds: 10 }], [{ delaySeconds: 20 }]]);
    expect(dlq.sent).toEqual([]);
  });

  it("caps the backoff at maxSeconds and honours maxRetries", async () => {
    const messages = [1, 2, 5].map((attempts) => msg({}, attempts));
    const { retries } = await run(messages, fail(new Error("boom")), { maxRetries: 5, backoff: { baseSeconds: 100, maxSeconds: 150 } });
    expect(messages.map((m) => retries.get(m.id))).toEqual([[{ delaySeconds: 100 }], [{ delaySeconds: 150 }], [{ delaySeconds: 150 }]]);
  });

  it("computes delays as min(max, base * 2^(attempts-1)), never above the platform's 12 h", () => {
    expect([1, 2, 3, 4].map((a) => backoffSeconds(a, 1, 5))).toEqual([1, 2, 4, 5]);
    expect(backoffSeconds(30)).toBe(43_200);
    expect(backoffSeconds(2, 0.3)).toBe(1); // whole seconds, rounded up
  });

  it("processes messages one at a time by default, and up to `concurrency` at once when asked", async () => {
    const peak = async (concurrency?: number) => {
      let inFlight = 0;
      let max = 0;
      await run(
        Array.from({ length: 5 }, () => msg({})),
        async () => {
          max = Math.max(max, ++inFlight);
          await Promise.resolve();
          await Promise.resolve();
          inFlight--;
        },
        { concurrency },
      );
      return max;
    };
    expect(await peak()).toBe(1);
    expect(await peak(2)).toBe(2);
    expect(await peak(10)).toBe(5);
  });

  it("refuses options it cannot honour, saying which", () => {
    const make = (o: Partial<FailureCaptureOptions<Body, Env>>) => () => withFailureCapture(() => {}, { deadLetterQueue: (e: Env) => e.DLQ, ...o });
    expect(make({ maxRetries: -1 })).toThrow(/maxRetries/);
    expect(make({ maxRetries: 101 })).toThrow(/maxRetries/);
    expect(make({ concurrency: 0 })).toThrow(/concurrency/);
    expect(make({ backoff: { maxSeconds: 86_400 } })).toThrow(/backoff\.maxSeconds/);
    expect(make({ backoff: { baseSeconds: Number.NaN } })).toThrow(/backoff\.baseSeconds/);
  });
});

describe("withFailureCapture: the last attempt", () => {
  it("sends an enriched envelope to the DLQ and acks; the ledger records and classifies it", LEDGER_WAIT, async () => {
    const t = tenant();
    const now = Date.now();
    const enqueued = new Date(now - 90_000);
    const body = { tenantId: t, jobId: "send-invoice-1", userId: "u-42", payload: { amount: 12 } };
    const message = msg(body, 4, enqueued);
    const { outcome, acked, retried } = await run([message], fail(new HttpError("upstream unavailable", 503, "E_UPSTREAM")), {
      now: () => now,
    });
    expect(outcome).toEqual({ ok: true });
    expect(acked).toEqual([message.id]);
    expect(retried).toEqual([]);

    const failure = await recorded(t, "send-invoice-1");
    expect(failure).toMatchObject({
      tenantId: t,
      jobId: "send-invoice-1",
      userId: "u-42",
      queue: "jobs",
      class: "RECOVERABLE",
      attempts: 4,
      bodyEncoding: "json",
      error: { name: "HttpError", message: "upstream unavailable", status: 503, code: "E_UPSTREAM" },
      firstFailedAt: enqueued.toISOString(),
      lastFailedAt: new Date(now).toISOString(),
    });
    expect(JSON.parse(failure.body)).toEqual(body);
    expect(failure.error?.stack).toContain("upstream unavailable");
  });

  it("classifies by the status it carries: a 404 (from statusCode) is a user error", LEDGER_WAIT, async () => {
    const t = tenant();
    const error = Object.assign(new Error("no such customer"), { statusCode: 404, code: 7 });
    // jobId falls back to a numeric `id`; queueName overrides the batch's queue.
    const { acked } = await run([msg({ tenantId: t, id: 1234 }, 2)], fail(error), { maxRetries: 1, queueName: "billing" });
    expect(acked).toHaveLength(1);

    const failure = await recorded(t, "1234");
    expect(failure).toMatchObject({ class: "USER_ERROR", queue: "billing", attempts: 2, userId: null });
    expect(failure.error).toMatchObject({ name: "Error", message: "no such customer", status: 404, code: "7" });
    const stats = await env.FAILURE_LEDGER.getByName(t).stats();
    expect(stats).toMatchObject({ total: 1, byClass: { USER_ERROR: 1 }, byQueue: { billing: 1 } });
  });

  it("reads ids through custom accessors", LEDGER_WAIT, async () => {
    const t = tenant();
    const body = { meta: { org: t, seq: 77 }, actor: "ada" };
    const { acked } = await run([msg(body, 4)], fail("plain string thrown"), {
      tenantId: (b) => (b.meta as { org: string }).org,
      jobId: (b) => (b.meta as { seq: number }).seq,
      userId: (b) => String(b.actor),
    });
    expect(acked).toHaveLength(1);

    const failure = await recorded(t, "77");
    expect(failure).toMatchObject({ userId: "ada", error: { name: "NonError", message: "plain string thrown" } });
    expect(JSON.parse(failure.body)).toEqual(body);
  });

  it("without a valid tenant or job id sends nothing and retries the raw message for the platform to dead-letter", async () => {
    const dlq = watchedQueue(env.DLQ);
    const messages = [msg({ jobId: "j" }, 4), msg({ tenantId: "_reserved", jobId: "j" }, 4), msg({ tenantId: tenant() }, 4), msg("text", 4)];
    const { outcome, acked, retried, retries } = await run(messages, fail(new Error("boom")), { deadLetterQueue: () => dlq.queue });
    expect(outcome).toEqual({ ok: true });
    expect(acked).toEqual([]);
    expect(retried).toEqual(messages.map((m) => m.id));
    for (const m of messages) expect(retries.get(m.id)).toEqual([undefined]);
    expect(dlq.sent).toEqual([]);
  });

  it("when the envelope cannot be sent, retries that message, settles the rest, then fails the invocation", LEDGER_WAIT, async () => {
    const dlq = watchedQueue(env.DLQ, { refuse: 1 });
    const t = tenant();
    const lost = msg({ tenantId: t, jobId: "lost", fail: true }, 4);
    const ok = msg({ tenantId: t, jobId: "fine" }, 4);
    const early = msg({ tenantId: t, jobId: "early", fail: true }, 1);
    const sent = msg({ tenantId: t, jobId: "sent", fail: true }, 4);
    const { outcome, acked, retried, retries } = await run(
      [lost, ok, early, sent],
      (m) => {
        if (m.body.fail) throw new Error(`failed ${String(m.body.jobId)}`);
      },
      { deadLetterQueue: () => dlq.queue },
    );

    expect(outcome.ok).toBe(false);
    expect(!outcome.ok && outcome.error).toBeInstanceOf(SendRefused);
    expect(dlq.refused()).toBe(1);
    expect(acked).toEqual([ok.id, sent.id]);
    expect(retried).toEqual([lost.id, early.id]);
    expect(retries.get(lost.id)).toEqual([undefined]);
    expect(retries.get(early.id)).toEqual([{ delaySeconds: 5 }]);
    // The envelope after the failed send still went out.
    expect(await recorded(t, "sent")).toMatchObject({ error: { message: "failed sent" } });
  });

  it("reports several lost envelopes as one AggregateError", async () => {
    const dlq = watchedQueue(env.DLQ, { refuse: 2 });
    const messages = [msg({ tenantId: tenant(), jobId: "a" }, 4), msg({ tenantId: tenant(), jobId: "b" }, 4)];
    const { outcome, retried } = await run(messages, fail(new Error("boom")), { concurrency: 2, deadLetterQueue: () => dlq.queue });
    expect(retried).toEqual(messages.map((m) => m.id));
    expect(outcome.ok).toBe(false);
    const error = !outcome.ok ? outcome.error : undefined;
    expect(error).toBeInstanceOf(AggregateError);
    expect((error as AggregateError).errors).toHaveLength(2);
  });
});

describe("buildEnvelope", () => {
  const base = { id: "m", timestamp: new Date("2026-01-01T00:00:00.000Z"), retry() {}, ack() {} };
  const at = Date.parse("2026-01-01T00:05:00.000Z");
  const message = (body: unknown, attempts = 4): Message<unknown> => ({ ...base, body, attempts });

  it("builds an envelope the DLQ consumer's schema accepts, truncating oversized error text", () => {
    const error = new Error("x".repeat(20_000));
    error.stack = "s".repeat(40_000);
    error.name = "N".repeat(300);
    const envelope = buildEnvelope(message({ tenantId: "acme", jobId: "j1", userId: "u1" }), error, { queue: "jobs", now: at });
    expect(envelope).not.toBeNull();
    const parsed = FailureEnvelope.parse(envelope);
    expect(parsed.error.message).toHaveLength(16_384);
    expect(parsed.error.stack).toHaveLength(32_768);
    expect(parsed.error.name).toHaveLength(256);
    expect(parsed).toMatchObject({
      v: ENVELOPE_VERSION,
      tenantId: "acme",
      jobId: "j1",
      userId: "u1",
      queue: "jobs",
      attempts: 4,
      enqueuedAt: "2026-01-01T00:00:00.000Z",
      lastFailedAt: "2026-01-01T00:05:00.000Z",
    });
    // The ledger takes the enqueue time as the first failure's earliest bound.
    expect(new Date(firstFailedAt(parsed)).toISOString()).toBe("2026-01-01T00:00:00.000Z");
  });

  it("does not split a surrogate pair when truncating", () => {
    const error = new Error(`${"x".repeat(16_383)}😀`);
    const envelope = buildEnvelope(message({ tenantId: "acme", jobId: "j" }), error, { queue: "jobs", now: at });
    expect(envelope?.error.message).toBe("x".repeat(16_383));
  });

  it("on a first attempt, the ledger takes the first failure to be the last", () => {
    const envelope = FailureEnvelope.parse(buildEnvelope(message({ tenantId: "acme", jobId: "j" }, 1), new Error("e"), { queue: "jobs", now: at }));
    expect(firstFailedAt(envelope)).toBe(at);
  });

  it("keeps status only when it is an HTTP status, and stringifies codes", () => {
    const info = (extra: object) => buildEnvelope(message({ tenantId: "acme", jobId: "j" }), Object.assign(new Error("e"), extra), { queue: "q", now: at })?.error;
    expect(info({ status: 503 })?.status).toBe(503);
    expect(info({ statusCode: 429 })?.status).toBe(429);
    for (const status of [99, 600, 503.5, "503", Number.NaN]) expect(info({ status })?.status).toBeUndefined();
    expect(info({ code: 42 })?.code).toBe("42");
    expect(info({ code: "ECONNRESET" })?.code).toBe("ECONNRESET");
    expect(info({ code: { nested: true } })?.code).toBeUndefined();
  });

  it("describes non-Error throws", () => {
    const env1 = buildEnvelope(message({ tenantId: "acme", jobId: "j" }), { status: 503 }, { queue: "q", now: at });
    expect(env1?.error).toEqual({ name: "NonError", message: "[object Object]", status: 503 });
    expect(FailureEnvelope.safeParse(env1).success).toBe(true);
    const env2 = buildEnvelope(message({ tenantId: "acme", jobId: "j" }), Object.create(null), { queue: "q", now: at });
    expect(env2?.error).toEqual({ name: "NonError", message: "[object Object]" });
  });

  it("drops a user id the schema would refuse instead of losing the failure", () => {
    const envelope = buildEnvelope(message({ tenantId: "acme", jobId: "j", userId: "" }), new Error("e"), { queue: "q", now: at });
    expect(envelope && "userId" in envelope).toBe(false);
    expect(FailureEnvelope.safeParse(envelope).success).toBe(true);
  });

  it("returns null without a valid tenant id or job id", () => {
    for (const body of [{ jobId: "j" }, { tenantId: "acme" }, { tenantId: ".x", jobId: "j" }, { tenantId: "acme", jobId: "" }, null, "text"]) {
      expect(buildEnvelope(message(body), new Error("e"), { queue: "q", now: at })).toBeNull();
    }
  });
});

describe("withFailureCapture: types", () => {
  it("infers the body and env types from the handler it is assigned to", () => {
    interface Job {
      tenantId: string;
      jobId: string;
    }
    const worker = {
      queue: withFailureCapture(
        (message) => {
          const job: Job = message.body; // typed without annotations
          return job;
        },
        { deadLetterQueue: (e) => e.DLQ },
      ),
    } satisfies ExportedHandler<Env, Job>;
    expect(typeof worker.queue).toBe("function");
  });
});

describe("success reports", () => {
  it("reports the batch's successes once per tenant, and a failing report never fails the batch", async () => {
    const [a, b] = [tenant(), tenant()];
    const calls: [string, string[]][] = [];
    const messages = [msg({ tenantId: a, jobId: "1" }), msg({ tenantId: b, id: 2 }), msg({ tenantId: a, jobId: "3" }), msg({ tenantId: a, jobId: "bad" })];
    const first = await run(messages, (m) => {
      if (m.body.jobId === "bad") throw new Error("no");
    }, {
      reportSuccess: () => ({
        reportSucceeded: async (t, ids) => {
          calls.push([t, ids]);
          if (t === b) throw new Error("service unavailable");
        },
      }),
    });
    expect(first.outcome.ok).toBe(true);
    expect(first.acked).toEqual(messages.slice(0, 3).map((m) => m.id));
    expect(calls).toHaveLength(2);
    expect(new Map(calls)).toEqual(
      new Map([
        [a, ["1", "3"]],
        [b, ["2"]],
      ]),
    );
  });
});
