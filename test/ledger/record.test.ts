import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { fingerprint } from "../../src/ingest/fingerprint";
import type { FailureLedger } from "../../src/failure-ledger";
import { failureInput, ledger, uniqueTenant } from "../support/failures";
import { withRowsRead } from "../support/rows-read";

// Recent enough that retention (30 days by default) keeps them.
const T = Date.now() - 3600_000;

/** The rows SQLite read while `work` ran inside the ledger. */
async function rowsReadBy(stub: ReturnType<typeof ledger>, work: (ledger: FailureLedger) => Promise<unknown>): Promise<number> {
  return runInDurableObject(stub, async (instance: FailureLedger, state) => {
    const { rowsRead, statements } = await withRowsRead(state.storage.sql, () => work(instance));
    expect(statements).toBeGreaterThan(0);
    return rowsRead;
  });
}

describe("FailureLedger.record", () => {
  it("counts a redelivered occurrence once, within a batch and across batches", async () => {
    const stub = ledger(uniqueTenant());
    const f = failureInput({ jobId: "j1", occurrenceKey: "k1" });

    expect(await stub.record([f, f])).toEqual({ created: 1, repeated: 0, duplicates: 1 });
    expect(await stub.record([f])).toEqual({ created: 0, repeated: 0, duplicates: 1 });

    const stats = await stub.stats();
    expect(stats).toMatchObject({ total: 1, occurrences: 1, duplicates: 2, last24h: 1 });
    expect((await stub.getFailure("j1"))?.occurrences).toBe(1);
  });

  it("folds a new occurrence of the same job into the same failure", async () => {
    const stub = ledger(uniqueTenant());
    const first = failureInput({ jobId: "j1", occurrenceKey: "a", attempts: 4, lastFailedAt: T + 1_000_000 });
    const second = failureInput({
      jobId: "j1",
      occurrenceKey: "b",
      attempts: 2,
      firstFailedAt: T + 2_000_000,
      lastFailedAt: T + 2_000_000,
      class: "RECOVERABLE",
      reason: "retryable HTTP status",
      error: { name: "Error", message: "upstream 503", status: 503 },
    });
    await stub.record([first]);
    expect(await stub.record([second])).toEqual({ created: 0, repeated: 1, duplicates: 0 });

    const failure = await stub.getFailure("j1");
    expect(failure).toMatchObject({
      occurrences: 2,
      attempts: 6,
      class: "RECOVERABLE",
      error: { message: "upstream 503", status: 503 },
      firstFailedAt: new Date(T + 1_000_000).toISOString(),
      lastFailedAt: new Date(T + 2_000_000).toISOString(),
    });
    const stats = await stub.stats();
    expect(stats.total).toBe(1);
    expect(stats.occurrences).toBe(2);
    expect(stats.byClass).toEqual({ RECOVERABLE: 1, USER_ERROR: 0, SYSTEM_ERROR: 0, UNKNOWN: 0 });
    expect(stats.avgAttempts).toBe(6);
  });

  it("keeps the latest error when occurrences arrive out of order", async () => {
    const stub = ledger(uniqueTenant());
    const later = failureInput({ jobId: "j1", occurrenceKey: "late", lastFailedAt: T + 5_000, error: { name: "Error", message: "second" } });
    const earlier = failureInput({
      jobId: "j1",
      occurrenceKey: "early",
      firstFailedAt: T + 1_000,
      lastFailedAt: T + 1_000,
      error: { name: "Error", message: "first" },
    });
    await stub.record([later]);
    await stub.record([earlier]);
    const failure = await stub.getFailure("j1");
    expect(failure?.error?.message).toBe("second");
    expect(failure?.occurrences).toBe(2);
    expect(failure?.firstFailedAt).toBe(new Date(T + 1_000).toISOString());
    expect(failure?.lastFailedAt).toBe(new Date(T + 5_000).toISOString());
  });

  it("folds occurrences of one job within a batch exactly as it does across batches", async () => {
    const occurrences = [
      failureInput({ jobId: "j1", occurrenceKey: "b", lastFailedAt: T + 5_000, class: "SYSTEM_ERROR", error: { name: "Error", message: "b" } }),
      failureInput({ jobId: "j1", occurrenceKey: "a", firstFailedAt: T + 1_000, lastFailedAt: T + 1_000, error: { name: "Error", message: "a" } }),
      failureInput({ jobId: "j1", occurrenceKey: "b" }),
      failureInput({ jobId: "j1", occurrenceKey: "c", lastFailedAt: T + 9_000, class: "UNKNOWN", error: { name: "Error", message: "c" } }),
    ];
    const together = ledger(uniqueTenant());
    const apart = ledger(uniqueTenant());
    expect(await together.record(occurrences)).toEqual({ created: 1, repeated: 2, duplicates: 1 });
    for (const o of occurrences) await apart.record([o]);

    const [a, b] = [await together.getFailure("j1"), await apart.getFailure("j1")];
    expect(a).toMatchObject({ occurrences: 3, class: "UNKNOWN", error: { message: "c" }, lastFailedAt: new Date(T + 9_000).toISOString() });
    expect({ ...a, tenantId: "" }).toEqual({ ...b, tenantId: "" });
    const [sa, sb] = [await together.stats(), await apart.stats()];
    expect(sa.byClass).toEqual({ RECOVERABLE: 0, USER_ERROR: 0, SYSTEM_ERROR: 0, UNKNOWN: 1 });
    expect(sa.byClass).toEqual(sb.byClass);
    expect(sa.byStatus).toEqual(sb.byStatus);
    expect([sa.occurrences, sa.duplicates]).toEqual([sb.occurrences, sb.duplicates]);
  });

  it("groups failures by error name, normalised message and queue", async () => {
    const stub = ledger(uniqueTenant());
    const fp = (message: string, queue = "jobs") => fingerprint("Error", message, queue);
    const a = await fp(`user 42 not found (id "8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60")`);
    const b = await fp(`user 977 not found (id "0b7c1d2e-1111-4222-8333-944455556666")`);
    const c = await fp(`user 42 not found (id "8f14e45f-ceea-467f-a0e6-1b2c3d4e5f60")`, "emails");
    expect(a).toBe(b);
    expect(c).not.toBe(a);

    await stub.record([
      failureInput({ fingerprint: a, lastFailedAt: T + 10_000, error: { name: "Error", message: "user 42 not found" } }),
      failureInput({ fingerprint: b, lastFailedAt: T + 20_000, error: { name: "Error", message: "user 977 not found" } }),
      failureInput({ fingerprint: c, queue: "emails", lastFailedAt: T + 15_000 }),
    ]);
    const groups = await stub.listGroups(10);
    expect(groups.map((g) => [g.fingerprint, g.count])).toEqual([
      [a, 2],
      [c, 1],
    ]);
    expect(groups[0]).toMatchObject({ messageSample: "user 977 not found", lastSeen: new Date(T + 20_000).toISOString() });
    expect((await stub.stats()).groups).toBe(2);
  });

  it("keeps every counter without scanning failures: class, queue, status, attempts, batches", async () => {
    const stub = ledger(uniqueTenant());
    await stub.record([
      failureInput({ class: "RECOVERABLE", queue: "a", attempts: 2 }),
      failureInput({ class: "USER_ERROR", queue: "a", attempts: 4 }),
      failureInput({ class: "USER_ERROR", queue: "b", attempts: 6 }),
    ]);
    await stub.record([failureInput({ class: "UNKNOWN", queue: "b", attempts: 0 })]);
    const stats = await stub.stats();
    expect(stats).toMatchObject({
      total: 4,
      byClass: { RECOVERABLE: 1, USER_ERROR: 2, SYSTEM_ERROR: 0, UNKNOWN: 1 },
      byQueue: { a: 2, b: 2 },
      byStatus: { open: 4, retrying: 0, exhausted: 0, recovered: 0, presumed_recovered: 0, abandoned: 0 },
      avgAttempts: 3,
      recoveryQueueSize: 4,
      batches: 2,
    });

    // Reading the stats reads the counters, not the failures: 500 more failures add no rows read.
    const before = await rowsReadBy(stub, (ledger) => ledger.stats());
    await stub.record(Array.from({ length: 500 }, () => failureInput({ class: "UNKNOWN", queue: "b", attempts: 0, lastFailedAt: T })));
    const after = await rowsReadBy(stub, (ledger) => ledger.stats());
    expect((await stub.stats()).total).toBe(504);
    expect(after - before).toBeLessThan(10);
  });

  it("rolls the 24 h window over with the clock", async () => {
    const tenant = uniqueTenant();
    const stub = ledger(tenant);
    const t0 = Date.UTC(2026, 10, 2, 9, 0, 0);
    const setClock = (at: number) => stub.tune({ now: at });

    await setClock(t0);
    await stub.record([failureInput({ lastFailedAt: t0 - 60_000 }), failureInput({ lastFailedAt: t0 - 23 * 3600_000 })]);
    expect((await stub.stats()).last24h).toBe(2);

    await setClock(t0 + 2 * 3600_000);
    expect((await stub.stats()).last24h).toBe(1);

    await setClock(t0 + 25 * 3600_000);
    const stats = await stub.stats();
    expect(stats.last24h).toBe(0);
    expect(stats.total).toBe(2);
  });
});
