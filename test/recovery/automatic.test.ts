import { runInDurableObject } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import type { FailureLedger } from "../../src/failure-ledger";
import { seeded, type Tuning } from "../../src/ledger/setup";
import { FUTURE, d1Of, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { ORIGIN, alarmAt, dueRetries, received, recoverable } from "../support/recovery";

afterEach(() => disarmFaults());

const policy = { baseSeconds: 10, capSeconds: 25, maxAttempts: 3 };

async function setup(extra: Tuning["recovery"] = {}) {
  const tenant = uniqueTenant("rec");
  const stub = ledger(tenant);
  await tuneLedger(stub, { now: FUTURE, seed: 7, recovery: { perQueue: { [ORIGIN]: policy }, ...extra } });
  return { tenant, stub };
}

async function waitReceived(tenant: string, count: number) {
  await vi.waitFor(async () => expect(await received(tenant)).toHaveLength(count), { timeout: 10_000, interval: 50 });
}

describe("automatic recovery", () => {
  it("retries with exponential backoff and full jitter until exhausted, each attempt sent once", async () => {
    const { tenant, stub } = await setup();
    const jitter = seeded(7);
    await stub.record([recoverable(tenant, "j1")]);
    expect((await stub.getFailure("j1"))?.status).toBe("retrying");

    let now = FUTURE;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const due = (await dueRetries(stub)).j1!;
      const ceiling = Math.min(policy.capSeconds, policy.baseSeconds * 2 ** (attempt - 1)) * 1000;
      expect(due - now).toBe(Math.max(1000, Math.floor(jitter() * ceiling)));
      expect(due - now).toBeLessThanOrEqual(ceiling);

      expect(await alarmAt(stub, due)).toBe(true);
      expect(await alarmAt(stub, due)).toBe(true); // the alarm running twice sends nothing more
      await waitReceived(tenant, attempt);
      expect((await stub.getFailure("j1"))?.recovery.attempts).toBe(attempt);

      // The retried job dead-letters again.
      now = due + 5000;
      await tuneLedger(stub, { now });
      await stub.record([recoverable(tenant, "j1", { occurrenceKey: `again-${attempt}`, lastFailedAt: now })]);
    }

    const failure = await stub.getFailure("j1");
    expect(failure).toMatchObject({ status: "exhausted", occurrences: 4, recovery: { attempts: 3, note: "gave up after 3 recovery attempts" } });
    expect(await dueRetries(stub)).toEqual({});
    const stats = await stub.stats();
    expect(stats.recovery).toMatchObject({ retriesSent: 3, refailures: 3, exhausted: 1, scheduledRetries: 0 });
    expect(stats.byStatus.exhausted).toBe(1);
    expect(await received(tenant)).toEqual([1, 2, 3].map(() => ({ tenantId: tenant, jobId: "j1" })));

    // Flushed, it is in D1's manual recovery queue.
    for (let i = 0; i < 5 && (await stub.stats()).outbox.pendingRows > 0; i++) await runFlush(stub);
    const queued = await (await d1Of(tenant)).prepare(`SELECT job_id, status FROM dlq_recovery_queue WHERE tenant_id = ?`).bind(tenant).all();
    expect(queued.results).toEqual([{ job_id: "j1", status: "exhausted" }]);
  });

  it("keeps a retry pending and backs off when the send fails", async () => {
    const { tenant, stub } = await setup();
    await stub.record([recoverable(tenant, "j1")]);
    const first = (await dueRetries(stub)).j1!;
    armFault("recovery.send", { key: ORIGIN });
    await alarmAt(stub, first);

    const second = (await dueRetries(stub)).j1!;
    expect(second).toBeGreaterThan(first);
    expect((await stub.getFailure("j1"))).toMatchObject({ status: "retrying", recovery: { attempts: 0 } });
    expect((await stub.stats()).recovery).toMatchObject({ sendFailures: 1, retriesSent: 0 });

    await alarmAt(stub, second);
    await waitReceived(tenant, 1);
    expect((await stub.getFailure("j1"))?.recovery.attempts).toBe(1);
  });

  it("counts a resend after a crash between send and bookkeeping, and loses nothing", async () => {
    const { tenant, stub } = await setup();
    await stub.record([recoverable(tenant, "j1")]);
    const due = (await dueRetries(stub)).j1!;
    armFault("recovery.after-send", { key: ORIGIN });
    await expect(alarmAt(stub, due)).rejects.toThrow(/recovery.after-send/);
    await waitReceived(tenant, 1);

    await alarmAt(stub, due);
    await waitReceived(tenant, 2);
    expect((await stub.stats()).recovery).toMatchObject({ retriesSent: 1, resends: 1 });
    expect((await stub.getFailure("j1"))?.recovery.attempts).toBe(1);
  });

  it("flags a job that fails the same way right after each retry as poison", async () => {
    const { tenant, stub } = await setup({ perQueue: { [ORIGIN]: { ...policy, maxAttempts: 5 } } });
    await stub.record([recoverable(tenant, "j1")]);
    for (let i = 1; i <= 2; i++) {
      const due = (await dueRetries(stub)).j1!;
      await alarmAt(stub, due);
      await stub.record([recoverable(tenant, "j1", { occurrenceKey: `again-${i}`, lastFailedAt: due + 1 })]);
    }
    expect((await stub.getFailure("j1"))?.recovery.poison).toBe(true);
    expect((await stub.stats()).recovery.poison).toBe(1);
  });

  it("presumes a quiet retried job recovered, and takes success reports", async () => {
    const { tenant, stub } = await setup({ presumeAfterMs: 60_000 });
    await stub.record([recoverable(tenant, "quiet"), recoverable(tenant, "reported")]);
    const due = await dueRetries(stub);
    const last = Math.max(due.quiet!, due.reported!);
    await alarmAt(stub, last);
    expect(await stub.reportSucceeded(["reported", "never-failed"])).toEqual(["reported"]);

    await alarmAt(stub, last + 60_000);
    expect((await stub.getFailure("quiet"))?.status).toBe("presumed_recovered");
    expect((await stub.getFailure("reported"))?.status).toBe("recovered");
    expect((await stub.stats()).recovery).toMatchObject({ recovered: 1, presumedRecovered: 1 });
    expect((await stub.history("reported"))[0]).toMatchObject({ action: "recovered", actor: "capture-helper" });
  });

  it("leaves failures it cannot retry open, saying why", async () => {
    const { tenant, stub } = await setup();
    await stub.record([
      recoverable(tenant, "elsewhere", { queue: "no-binding" }),
      recoverable(tenant, "user", { class: "USER_ERROR" }),
      recoverable(tenant, "redacted", { bodyRedacted: true }),
    ]);
    expect((await stub.getFailure("elsewhere"))).toMatchObject({ status: "open", recovery: { note: "no producer binding for queue no-binding in ORIGIN_QUEUES" } });
    expect((await stub.getFailure("user"))).toMatchObject({ status: "open", recovery: { note: null } });
    expect((await stub.getFailure("redacted"))?.recovery.note).toMatch(/RETRY_SEAL_KEY is not set/);
    expect(await dueRetries(stub)).toEqual({});
  });
});

describe("circuit breaker per origin queue", () => {
  it("opens after repeated failures, lets one probe through after the cooldown, and closes when it recovers", async () => {
    const flat = { baseSeconds: 1, capSeconds: 1, maxAttempts: 10 };
    const { tenant, stub } = await setup({ perQueue: { [ORIGIN]: flat }, circuit: { threshold: 2, windowMs: 60_000, cooldownMs: 30_000 } });
    const jobs = ["a", "b", "c"];
    await stub.record(jobs.map((j) => recoverable(tenant, j)));
    let now = FUTURE + 1000;
    await alarmAt(stub, now);
    await waitReceived(tenant, 3);

    // a and b fail again right after their retries: the circuit opens.
    now += 100;
    await tuneLedger(stub, { now });
    await stub.record(["a", "b"].map((j) => recoverable(tenant, j, { occurrenceKey: `${j}-2`, lastFailedAt: now })));
    const circuit = async () => (await stub.stats()).circuits[ORIGIN];
    expect(await circuit()).toMatchObject({ state: "open" });

    // Their next retries are due in a second but held until the cooldown ends.
    await alarmAt(stub, now + 1000);
    expect(await received(tenant)).toHaveLength(3);
    const held = await dueRetries(stub);
    expect(held.a).toBe(now + 30_000);
    expect(held.b).toBe(now + 30_000);

    // After the cooldown exactly one probe goes through.
    await alarmAt(stub, now + 30_000);
    await waitReceived(tenant, 4);
    const probe = (await circuit())!;
    expect(probe.state).toBe("half_open");
    expect(["a", "b"]).toContain(probe.probeJobId);
    const other = probe.probeJobId === "a" ? "b" : "a";
    expect((await dueRetries(stub))[other]).toBeGreaterThan(now + 30_000);

    // The probe recovers: the circuit closes and the held retry goes out.
    await stub.reportSucceeded([probe.probeJobId!]);
    expect(await circuit()).toMatchObject({ state: "closed", recentFailures: 0 });
    await alarmAt(stub, (await dueRetries(stub))[other]!);
    await waitReceived(tenant, 5);
    expect((await received(tenant)).map((b) => b.jobId).sort()).toEqual(["a", "a", "b", "b", "c"]);
  });

  it("counts a retried job that then dead-letters raw against its own origin queue", async () => {
    const flat = { baseSeconds: 1, capSeconds: 1, maxAttempts: 10 };
    const { tenant, stub } = await setup({ perQueue: { [ORIGIN]: flat }, circuit: { threshold: 1, windowMs: 60_000, cooldownMs: 30_000 } });
    await stub.record([recoverable(tenant, "p")]);
    await alarmAt(stub, FUTURE + 1000);
    // The retry crashed the consumer: the platform dead-letters the raw body, whose queue is only a guess.
    await stub.record([recoverable(tenant, "p", { occurrenceKey: "raw", class: "UNKNOWN", reason: "no error context", error: null, queue: "jobs" })]);
    const circuits = (await stub.stats()).circuits;
    expect(circuits[ORIGIN]?.state).toBe("open");
    expect(circuits.jobs).toBeUndefined();
    expect(await stub.getFailure("p")).toMatchObject({ queue: ORIGIN, status: "open", class: "UNKNOWN" });
  });

  it("opens again when the probe fails", async () => {
    const flat = { baseSeconds: 1, capSeconds: 1, maxAttempts: 10 };
    const { tenant, stub } = await setup({ perQueue: { [ORIGIN]: flat }, circuit: { threshold: 1, windowMs: 60_000, cooldownMs: 30_000 } });
    await stub.record([recoverable(tenant, "p")]);
    let now = FUTURE + 1000;
    await alarmAt(stub, now);
    await tuneLedger(stub, { now: (now += 10) });
    await stub.record([recoverable(tenant, "p", { occurrenceKey: "p-2", lastFailedAt: now })]);
    await alarmAt(stub, now + 30_000);
    await waitReceived(tenant, 2);
    expect((await stub.stats()).circuits[ORIGIN]?.state).toBe("half_open");

    await tuneLedger(stub, { now: now + 30_100 });
    await stub.record([recoverable(tenant, "p", { occurrenceKey: "p-3", lastFailedAt: now + 30_100 })]);
    expect((await stub.stats()).circuits[ORIGIN]).toMatchObject({ state: "open", openedAt: new Date(now + 30_100).toISOString() });
  });
});

describe("sealed bodies", () => {
  it("sends the original body when redaction changed the stored copy", async () => {
    const { tenant, stub } = await setup();
    const original = { tenantId: tenant, jobId: "s1", password: "hunter2" };
    const { seal } = await import("../../src/ingest/seal");
    await stub.record([
      recoverable(tenant, "s1", {
        body: JSON.stringify({ ...original, password: "[REDACTED]" }),
        bodyRedacted: true,
        sealedBody: await seal("test-seal-key", JSON.stringify(original)),
      }),
    ]);
    expect(JSON.parse((await stub.getFailure("s1"))!.body).password).toBe("[REDACTED]");
    await alarmAt(stub, (await dueRetries(stub)).s1!);
    await waitReceived(tenant, 1);
    expect((await received(tenant))[0]).toEqual(original);
    const sealed = await runInDurableObject(stub, (_i: FailureLedger, state) =>
      state.storage.sql.exec<{ sealed_body: string }>(`SELECT sealed_body FROM failures WHERE job_id = 's1'`).one().sealed_body,
    );
    expect(sealed).not.toContain("hunter2");
  });
});
