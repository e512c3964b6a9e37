import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { SCHEMA_VERSION, migrate } from "../../src/ledger/schema";
import { FUTURE, d1Of, failureInput, ledger, tuneLedger, uniqueTenant } from "../support/failures";

describe("ledger schema", () => {
  it("refuses storage written by a newer schema instead of guessing", async () => {
    const stub = ledger(uniqueTenant());
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      state.storage.sql.exec(`UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'`, SCHEMA_VERSION + 1);
      expect(() => migrate(state.storage)).toThrow(/roll the schema forward, never back/);
      state.storage.sql.exec(`UPDATE ledger_meta SET value = ? WHERE key = 'schema_version'`, SCHEMA_VERSION);
    });
  });
});

const retentionDueAt = (stub: DurableObjectStub<FailureLedger>) =>
  runInDurableObject(stub, (_i: FailureLedger, state) => state.storage.sql.exec(`SELECT due_at FROM due_work WHERE kind = 'retention'`).one().due_at);

describe("ledger retention", () => {
  it("evicts the oldest rows beyond the row bound once flushed, and counts them", async () => {
    const tenant = uniqueTenant();
    const stub = ledger(tenant);
    const now = FUTURE;
    await tuneLedger(stub, { now, flushDelayMs: 0, retention: { maxRows: 3 } });
    await stub.record([1, 2, 3, 4, 5].map((i) => failureInput({ jobId: `j${i}`, lastFailedAt: now - (10 - i) * 1000 })));
    expect(await stub.stats()).toMatchObject({ rows: 5, evicted: 0, outbox: { pendingRows: 1 } });

    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const stats = await stub.stats();
    expect(stats).toMatchObject({ total: 5, rows: 3, evicted: 2 });
    expect(await stub.getFailure("j1")).toBeNull();
    expect(await stub.getFailure("j2")).toBeNull();
    expect(await stub.getFailure("j3")).not.toBeNull();
    expect(stats.byClass.SYSTEM_ERROR).toBe(5);
    expect(stats.outbox.pendingRows).toBe(0);
    const inD1 = await (await d1Of(tenant)).prepare(`SELECT COUNT(*) AS n FROM failures WHERE tenant_id = ? AND job_id IN ('j1', 'j2')`).bind(tenant).first<{ n: number }>();
    expect(inD1?.n).toBe(2);
  });

  it("evicts rows past the age bound when the alarm runs, and re-arms for the next", async () => {
    const stub = ledger(uniqueTenant());
    const day = 24 * 3600_000;
    const t0 = FUTURE;
    await tuneLedger(stub, { now: t0, flushDelayMs: 0, retention: { maxAgeMs: 2 * day } });
    // USER_ERROR: no ops alert, so the only due work is the flush, retention and D1's retention.
    const userError = { class: "USER_ERROR" as const, userId: undefined };
    await stub.record([failureInput({ jobId: "old", lastFailedAt: t0 - day, ...userError }), failureInput({ jobId: "new", lastFailedAt: t0, ...userError })]);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // the flush

    expect(await retentionDueAt(stub)).toBe(t0 + day + 1);

    await tuneLedger(stub, { now: t0 + day + 1 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);

    expect(await stub.getFailure("old")).toBeNull();
    expect(await stub.getFailure("new")).not.toBeNull();
    expect(await stub.stats()).toMatchObject({ total: 2, rows: 1, evicted: 1, byClass: { USER_ERROR: 2 } });
    expect(await retentionDueAt(stub)).toBe(t0 + 2 * day + 1);
  });

  it("does not ring again at once when its oldest failure is exactly as old as the age bound", async () => {
    const stub = ledger(uniqueTenant());
    const day = 24 * 3600_000;
    const t0 = FUTURE;
    await tuneLedger(stub, { now: t0, flushDelayMs: 0, retention: { maxAgeMs: day } });
    const userError = { class: "USER_ERROR" as const, userId: undefined };
    await stub.record([failureInput({ jobId: "edge", lastFailedAt: t0 - day, ...userError })]);
    expect(await runDurableObjectAlarm(stub)).toBe(true); // the flush, and a pass that finds nothing older than the bound

    // Not yet older than a day: kept, and the next pass is due the first moment it is.
    expect(await stub.getFailure("edge")).not.toBeNull();
    expect(await retentionDueAt(stub)).toBe(t0 + 1);
    expect(await runInDurableObject(stub, (_i: FailureLedger, state) => state.storage.getAlarm())).toBeGreaterThan(t0);

    await tuneLedger(stub, { now: t0 + 1 });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await stub.getFailure("edge")).toBeNull();
  });
});
