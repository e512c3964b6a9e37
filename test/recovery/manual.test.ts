import { abortAllDurableObjects } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { apiFetch, createToken } from "../support/api";
import { FUTURE, alarmTime, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { alarmAt, dueRetries, received, recoverable } from "../support/recovery";

/** The audit trail names the token's label: each tenant gets a token labelled "ana". */
const anasTokens = new Map<string, Promise<string>>();
function anasToken(path: string): Promise<string> {
  const tenant = new URL(path, "http://local").searchParams.get("tenant")!;
  if (!anasTokens.has(tenant)) anasTokens.set(tenant, createToken(tenant, "ana").then((t) => t.token));
  return anasTokens.get(tenant)!;
}

async function call(method: string, path: string, body?: unknown) {
  const res = await apiFetch(
    path,
    { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) },
    await anasToken(path),
  );
  return { status: res.status, body: (await res.json()) as any };
}

async function waitReceived(tenant: string, count: number, timeout = 10_000) {
  await vi.waitFor(async () => expect(await received(tenant)).toHaveLength(count), { timeout, interval: 100 });
}

describe("manual recovery", () => {
  it("requeues one job now, records who did it, and refuses what must not be retried", async () => {
    const tenant = uniqueTenant("man");
    const stub = ledger(tenant);
    await stub.record([
      recoverable(tenant, "u1", { class: "USER_ERROR" }),
      recoverable(tenant, "gone", { class: "USER_ERROR" }),
      recoverable(tenant, "nowhere", { class: "USER_ERROR", queue: "no-binding" }),
    ]);

    const requeued = await call("POST", `/api/queue/dlq/failures/u1/requeue?tenant=${tenant}`, { delaySeconds: 0 });
    expect(requeued.status).toBe(200);
    expect(requeued.body).toMatchObject({ jobId: "u1", status: "retrying" });
    await waitReceived(tenant, 1);

    const abandoned = await call("POST", `/api/queue/dlq/failures/gone/abandon?tenant=${tenant}`, { reason: "customer deleted the chart" });
    expect(abandoned.body).toMatchObject({ status: "abandoned", recovery: { note: "abandoned: customer deleted the chart" } });
    expect((await call("POST", `/api/queue/dlq/failures/gone/requeue?tenant=${tenant}`)).status).toBe(409);
    expect((await call("POST", `/api/queue/dlq/failures/nowhere/requeue?tenant=${tenant}`)).body.error).toMatchObject({
      code: "conflict",
      message: expect.stringContaining("no producer binding for queue no-binding"),
    });
    expect((await call("POST", `/api/queue/dlq/failures/missing/requeue?tenant=${tenant}`)).status).toBe(404);
    expect((await call("POST", `/api/queue/dlq/failures/gone/abandon?tenant=${tenant}`, {})).status).toBe(400);

    const history = await call("GET", `/api/queue/dlq/failures/u1/history?tenant=${tenant}`);
    expect(history.body.items).toEqual([{ action: "requeue", actor: "ana", at: expect.any(String), operationId: null, detail: { delaySeconds: 0 } }]);
    expect((await stub.stats()).recovery).toMatchObject({ manualRequeues: 1, abandoned: 1 });
    expect(await received(tenant)).toHaveLength(1);
  });

  it("stops automatic retries of an abandoned job", async () => {
    const tenant = uniqueTenant("ab");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE });
    await stub.record([recoverable(tenant, "r1")]);
    const due = (await dueRetries(stub)).r1!;
    expect((await call("POST", `/api/queue/dlq/failures/r1/abandon?tenant=${tenant}`, { reason: "duplicate" })).status).toBe(200);
    expect(await dueRetries(stub)).toEqual({});
    await alarmAt(stub, due);
    expect((await stub.getFailure("r1"))?.status).toBe("abandoned");
    expect((await stub.stats()).recovery.retriesSent).toBe(0);
  });
});

describe("bulk operations", () => {
  it("previews, then requeues a snapshot of 10,000 failures at a rate, resuming after a reset, each sent once", async () => {
    const tenant = uniqueTenant("bulk");
    const stub = ledger(tenant);
    const total = 10_000;
    // The ledger's alarms are set from its clock: far ahead, they only run when driven here.
    await tuneLedger(stub, { now: FUTURE });
    for (let i = 0; i < total; i += 500) {
      await stub.record(Array.from({ length: 500 }, (_, k) => recoverable(tenant, `b${i + k}`, { class: "USER_ERROR" })));
    }

    const preview = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, { action: "requeue", filter: { class: "USER_ERROR" }, dryRun: true });
    expect(preview.body).toMatchObject({ dryRun: true, matched: total });
    expect(preview.body.sample).toHaveLength(10);

    const started = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, { action: "requeue", filter: { class: "USER_ERROR" }, rate: 1000 });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: "running", total, processed: 0, createdBy: "ana" });
    const id: string = started.body.id;

    // Arrives after the snapshot: not swept in.
    await stub.record([recoverable(tenant, "late", { class: "USER_ERROR" })]);

    let runs = 0;
    // A fresh stub each run: stubs from before a reset stay broken.
    let ranAt = 0;
    const runDue = async () => {
      ranAt = (await alarmTime(ledger(tenant))) ?? ranAt;
      await runFlush(ledger(tenant));
      runs++;
    };
    await runDue();
    // 100 items per run at 1000 per second: the next chunk is due 100 ms later.
    expect((await alarmTime(ledger(tenant)))! - ranAt).toBe(100);
    for (let i = 1; i < 40; i++) await runDue();
    const midway = (await call("GET", `/api/queue/dlq/operations/${id}?tenant=${tenant}`)).body;
    expect(midway.processed).toBe(4000);

    await abortAllDurableObjects(); // the ledger is reset: memory gone, storage kept
    while ((await call("GET", `/api/queue/dlq/operations/${id}?tenant=${tenant}`)).body.status === "running") await runDue();

    const finished = (await call("GET", `/api/queue/dlq/operations/${id}?tenant=${tenant}`)).body;
    expect(finished).toMatchObject({ status: "done", total, processed: total, succeeded: total, failed: 0, errors: [] });
    expect(runs).toBe(100);

    await waitReceived(tenant, total, 60_000);
    const ids = (await received(tenant)).map((b) => b.jobId);
    expect(new Set(ids).size).toBe(total);
    expect(ids).not.toContain("late");
    const after = ledger(tenant);
    expect((await after.getFailure("late"))?.status).toBe("open");
    expect((await after.stats()).byStatus).toMatchObject({ retrying: total, open: 1 });
    expect((await after.stats()).recovery).toMatchObject({ manualRequeues: total, resends: 0 });
    expect((await after.history("b42"))[0]).toMatchObject({ action: "requeue", actor: "ana", operationId: id });
  }, 120_000);

  it("abandons by filter and reports per-item errors", async () => {
    const tenant = uniqueTenant("bulkab");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE });
    await stub.record(["x1", "x2", "x3"].map((j) => recoverable(tenant, j, { class: "SYSTEM_ERROR", queue: "emails" })));
    const started = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, {
      action: "abandon",
      filter: { queue: "emails" },
      reason: "emails provider retired",
      rate: 2,
    });
    const id = started.body.id;
    // Someone abandons x3 by hand before the operation reaches it.
    await call("POST", `/api/queue/dlq/failures/x3/abandon?tenant=${tenant}`, { reason: "by hand" });
    for (let i = 0; i < 2; i++) await runFlush(stub);
    const op = (await call("GET", `/api/queue/dlq/operations/${id}?tenant=${tenant}`)).body;
    expect(op).toMatchObject({ status: "done", total: 3, succeeded: 2, failed: 1, errors: [{ jobId: "x3", error: "already abandoned" }] });
    expect((await stub.getFailure("x1"))?.recovery.note).toBe("abandoned: emails provider retired");
  });

  it("lists a tenant's recent operations, newest first", async () => {
    const tenant = uniqueTenant("opslist");
    const stub = ledger(tenant);
    await stub.record(["o1", "o2"].map((j, i) => recoverable(tenant, j, { class: "SYSTEM_ERROR", queue: `q${i}` })));
    const first = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, { action: "abandon", filter: { queue: "q0" }, reason: "one" });
    await tuneLedger(stub, { now: FUTURE });
    const second = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, { action: "abandon", filter: { queue: "q1" }, reason: "two" });
    const all = await call("GET", `/api/queue/dlq/operations?tenant=${tenant}`);
    expect(all.status).toBe(200);
    expect(all.body.items.map((o: { id: string }) => o.id)).toEqual([second.body.id, first.body.id]);
    expect(all.body.items[1]).toMatchObject({ action: "abandon", filter: { queue: "q0" }, total: 1, createdBy: "ana" });
    const one = await call("GET", `/api/queue/dlq/operations?tenant=${tenant}&limit=1`);
    expect(one.body.items).toHaveLength(1);
    expect((await call("GET", `/api/queue/dlq/operations?tenant=${uniqueTenant("none")}`)).body.items).toEqual([]);
  });

  it("rejects malformed operations with one error shape", async () => {
    const tenant = uniqueTenant();
    for (const body of [
      { action: "delete", filter: {} },
      { action: "abandon", filter: {} },
      { action: "requeue", filter: { class: "NOPE" } },
      { action: "requeue", filter: {}, rate: 0 },
      { action: "requeue", filter: { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" } },
    ]) {
      const res = await call("POST", `/api/queue/dlq/operations?tenant=${tenant}`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("invalid_request");
    }
    expect((await call("GET", `/api/queue/dlq/operations/op-00000000-0000-0000-0000-000000000000?tenant=${tenant}`)).status).toBe(404);
  });
});

describe("a bulk requeue and due work in one alarm run", () => {
  it("sends a job whose retry was due once: the requeue takes the retry's place", async () => {
    const tenant = uniqueTenant("bulk-due");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE });
    await stub.record([recoverable(tenant, "r1")]);
    const due = (await dueRetries(stub)).r1!;
    // Started when the retry is already due: its step runs in the same alarm run as the retry.
    await tuneLedger(stub, { now: due });
    const op = await stub.startOperation({ action: "requeue", filter: { queue: "recovery-test" }, rate: 100 }, "ana");
    expect(op).toMatchObject({ status: "running", total: 1 });
    await alarmAt(stub, due);

    expect(await stub.getOperation((op as { id: string }).id)).toMatchObject({ status: "done", succeeded: 1 });
    expect((await stub.stats()).recovery).toMatchObject({ manualRequeues: 1, retriesSent: 0, scheduledRetries: 0 });
    expect(await stub.getFailure("r1")).toMatchObject({ status: "retrying", recovery: { attempts: 0 } });
    await waitReceived(tenant, 1);
  });
});
