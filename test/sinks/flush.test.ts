import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import { deliver, envelope, message } from "../support/dlq";
import { FUTURE, d1Of, failureInput, ledger, runFlush, servedFailure, tuneLedger, uniqueTenant } from "../support/failures";

afterEach(() => disarmFaults());

async function d1Failures(tenant: string) {
  const { results } = await (await d1Of(tenant)).prepare(`SELECT job_id, occurrences, status, archive_key FROM failures WHERE tenant_id = ? ORDER BY job_id`)
    .bind(tenant)
    .all<{ job_id: string; occurrences: number; status: string; archive_key: string | null }>();
  return results;
}

async function segments(tenant: string) {
  return (await env.ARCHIVE.list({ prefix: `${tenant}/` })).objects;
}

async function recordJobs(tenant: string, count: number) {
  const result = await deliver(Array.from({ length: count }, (_, i) => message(envelope(tenant, `j${i}`))));
  expect(result.explicitAcks).toHaveLength(count);
}

describe("outbox flush", () => {
  it("writes one R2 segment and the D1 rows for a batch, then empties the outbox", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 3);
    const later = new Date(Date.now() + 1000).toISOString();
    await deliver([message(envelope(tenant, "j1", { lastFailedAt: later, attempts: 2 }))]);
    expect((await ledger(tenant).stats()).outbox.pendingRows).toBe(2);
    expect(await d1Failures(tenant)).toEqual([]);

    expect(await runFlush(ledger(tenant))).toBe(true);

    const rows = await d1Failures(tenant);
    expect(rows.map((r) => [r.job_id, r.occurrences, r.status])).toEqual([
      ["j0", 1, "open"],
      ["j1", 2, "open"],
      ["j2", 1, "open"],
    ]);
    const objects = await segments(tenant);
    expect(objects).toHaveLength(1);
    expect(objects[0]!.key).toMatch(new RegExp(`^${tenant}/\\d{4}/\\d{2}/\\d{2}/[0-9a-f]{8}-\\d+-\\d+\\.ndjson$`));
    expect(rows.every((r) => r.archive_key === objects[0]!.key)).toBe(true);
    const lines = (await (await env.ARCHIVE.get(objects[0]!.key))!.text()).trim().split("\n");
    expect(lines.map((l) => JSON.parse(l).jobId)).toEqual(["j0", "j1", "j2", "j1"]);

    const groups = await (await d1Of(tenant)).prepare(`SELECT count FROM failure_groups WHERE tenant_id = ?`).bind(tenant).all<{ count: number }>();
    expect(groups.results).toEqual([{ count: 4 }]);
    const queued = await (await d1Of(tenant)).prepare(`SELECT COUNT(*) AS n FROM dlq_recovery_queue WHERE tenant_id = ?`).bind(tenant).first<{ n: number }>();
    expect(queued?.n).toBe(0); // only exhausted failures wait in the manual recovery queue

    const stats = await ledger(tenant).stats();
    expect(stats.outbox).toMatchObject({ pendingRows: 0, lastFlushError: null, consecutiveFlushFailures: 0 });
    expect(stats.archive).toMatchObject({ flushes: 1, segments: 1, occurrences: 4 });
    expect(stats.archive.d1RowsWritten).toBeGreaterThan(0);
  });

  it("leaves nothing half-written when the D1 batch fails midway, and writes each failure once on retry", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 12);
    // The groups upsert comes after the failures upserts in the same batch: break it for real.
    const db = await d1Of(tenant);
    await db.exec(`ALTER TABLE failure_groups RENAME TO failure_groups_away`);
    try {
      expect(await runFlush(ledger(tenant))).toBe(true);
    } finally {
      await db.exec(`ALTER TABLE failure_groups_away RENAME TO failure_groups`);
    }
    expect(await d1Failures(tenant)).toEqual([]);
    const failed = await ledger(tenant).stats();
    expect(failed.outbox.pendingRows).toBe(1);
    expect(failed.outbox.consecutiveFlushFailures).toBe(1);
    expect(failed.outbox.lastFlushError?.message).toMatch(/^d1: .*failure_groups/);
    expect(await segments(tenant)).toHaveLength(1);

    expect(await runFlush(ledger(tenant))).toBe(true);
    const rows = await d1Failures(tenant);
    expect(rows).toHaveLength(12);
    expect(new Set(rows.map((r) => r.job_id)).size).toBe(12);
    expect(await segments(tenant)).toHaveLength(1);
    expect((await ledger(tenant).stats()).outbox).toMatchObject({ pendingRows: 0, consecutiveFlushFailures: 0, lastFlushError: null });
  });

  it("retries an R2 put that failed and writes the segment once", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 2);
    armFault("r2.put", { key: tenant });
    await runFlush(ledger(tenant));
    expect(await segments(tenant)).toHaveLength(0);
    expect(await d1Failures(tenant)).toEqual([]);
    expect((await ledger(tenant).stats()).outbox.lastFlushError?.message).toMatch(/^r2: injected fault/);

    await runFlush(ledger(tenant));
    expect(await segments(tenant)).toHaveLength(1);
    expect(await d1Failures(tenant)).toHaveLength(2);
  });

  it("writes the tenant's counters to its summary row with each flush, as they are then", async () => {
    const tenant = uniqueTenant();
    const summary = async () =>
      (await d1Of(tenant))
        .prepare(`SELECT total, occurrences, by_class, by_status FROM tenant_summaries WHERE tenant_id = ?`)
        .bind(tenant)
        .first<{ total: number; occurrences: number; by_class: string; by_status: string }>();
    await recordJobs(tenant, 3);
    await deliver([message(envelope(tenant, "j1", { lastFailedAt: new Date(Date.now() + 1000).toISOString() }))]);
    expect(await runFlush(ledger(tenant))).toBe(true);
    const written = (await summary())!;
    // three upstream 503s (RECOVERABLE), one of them twice, none retried yet
    expect({ ...written, by_class: JSON.parse(written.by_class), by_status: JSON.parse(written.by_status) }).toEqual({
      total: 3,
      occurrences: 4,
      by_class: { RECOVERABLE: 3, USER_ERROR: 0, SYSTEM_ERROR: 0, UNKNOWN: 0 },
      by_status: { open: 3, retrying: 0, exhausted: 0, recovered: 0, presumed_recovered: 0, abandoned: 0 },
    });

    await ledger(tenant).abandon("j0", "tester", "not needed");
    expect(await runFlush(ledger(tenant))).toBe(true);
    const after = JSON.parse((await summary())!.by_status);
    expect(after).toMatchObject({ open: 2, abandoned: 1 });
  });

  it("repeats a flush cut short after D1 without duplicating anything", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 3);
    armFault("analytics.write", { key: tenant });
    await runFlush(ledger(tenant));
    expect(await d1Failures(tenant)).toHaveLength(3);
    expect((await ledger(tenant).stats()).outbox.pendingRows).toBe(1);

    await runFlush(ledger(tenant));
    expect(await d1Failures(tenant)).toHaveLength(3);
    expect(await segments(tenant)).toHaveLength(1);
    expect((await ledger(tenant).stats()).outbox.pendingRows).toBe(0);
  });

  it("still flushes after the alarm itself throws", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 2);
    armFault("alarm", { key: tenant });
    await expect(runFlush(ledger(tenant))).rejects.toThrow(/injected fault at alarm/);
    expect(await d1Failures(tenant)).toEqual([]);

    expect(await runFlush(ledger(tenant))).toBe(true);
    expect(await d1Failures(tenant)).toHaveLength(2);
  });
});

describe("reading the archive", () => {
  it("reads one failure's envelope back from its segment with a range read", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 3);
    await runFlush(ledger(tenant));

    const failure = await servedFailure(tenant, "j2");
    expect(failure).toMatchObject({ source: "ledger", jobId: "j2" });
    expect(failure!.archive.offset).toBeGreaterThan(0);
    expect(failure!.archive.envelope).toMatchObject({
      tenantId: tenant,
      jobId: "j2",
      error: { message: "upstream timed out", status: 503 },
      body: { tenantId: tenant, jobId: "j2", payload: "x" },
    });
  });

  it("still serves a failure the ledger evicted, from D1 and R2", async () => {
    const tenant = uniqueTenant();
    await recordJobs(tenant, 3);
    await tuneLedger(ledger(tenant), { retention: { maxRows: 1 } });
    await runFlush(ledger(tenant));
    expect(await ledger(tenant).stats()).toMatchObject({ total: 3, rows: 1, evicted: 2 });
    expect(await ledger(tenant).getFailure("j0")).toBeNull();

    const failure = await servedFailure(tenant, "j0");
    expect(failure).toMatchObject({
      source: "archive",
      jobId: "j0",
      class: "RECOVERABLE",
      body: { tenantId: tenant, jobId: "j0", payload: "x" },
      error: { name: "Error", message: "upstream timed out", status: 503 },
    });
  });
});

describe("a job failing again after the ledger evicted it", () => {
  it("adds to its D1 record instead of replacing it", async () => {
    const tenant = uniqueTenant();
    const stub = ledger(tenant);
    const at = FUTURE;
    // Alarms set from a clock far ahead only run when driven here; flushes are due at once.
    await tuneLedger(stub, { now: at, flushDelayMs: 0, retention: { maxRows: 1 } });
    const job = (jobId: string, time: number, attempts = 4) =>
      failureInput({ jobId, lastFailedAt: time, firstFailedAt: time, attempts, class: "USER_ERROR", userId: undefined });
    const flushAll = async () => {
      for (let i = 0; i < 5 && (await stub.stats()).outbox.pendingRows > 0; i++) await runFlush(stub);
    };
    await stub.record([job("again", at - 60_000)]);
    await stub.record([job("other", at - 50_000)]);
    await flushAll();
    expect(await stub.getFailure("again")).toBeNull(); // evicted, once flushed
    await stub.record([job("again", at - 10_000, 2)]);
    await flushAll();
    const row = await (await d1Of(tenant)).prepare(`SELECT occurrences, attempts, first_failed_at FROM failures WHERE tenant_id = ? AND job_id = 'again'`)
      .bind(tenant)
      .first<{ occurrences: number; attempts: number; first_failed_at: number }>();
    expect(row).toEqual({ occurrences: 2, attempts: 6, first_failed_at: at - 60_000 });
  });
});
