// D1 keeps a tenant's failures for D1_MAX_AGE_DAYS, at most D1_MAX_ROWS_PER_TENANT of them; what
// leaves is counted, and the R2 archive keeps every occurrence.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import type { FailureLedger } from "../../src/failure-ledger";
import { FUTURE, d1Of, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";

afterEach(() => disarmFaults());

const DAY = 24 * 60 * 60 * 1000;

/** Makes the ledger's D1 retention pass due now and runs the alarm. */
async function runD1Retention(stub: DurableObjectStub<FailureLedger>, policy: { maxRowsPerTenant: number; maxAgeMs: number }, now: number) {
  await stub.tune({ d1: policy, now });
  await runInDurableObject(stub, async (_instance: FailureLedger, state) => {
    expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM due_work WHERE kind = 'd1-retention'`).one().n).toBe(1);
    state.storage.sql.exec(`UPDATE due_work SET due_at = ? WHERE kind = 'd1-retention'`, now);
    await state.storage.setAlarm(now);
  });
  return runDurableObjectAlarm(stub);
}

async function d1Jobs(tenant: string): Promise<string[]> {
  const { results } = await (await d1Of(tenant)).prepare(`SELECT job_id FROM failures WHERE tenant_id = ? ORDER BY job_id`).bind(tenant).all<{ job_id: string }>();
  return results.map((r) => r.job_id);
}

async function archivedJobs(tenant: string): Promise<string[]> {
  const jobs: string[] = [];
  for (const object of (await env.ARCHIVE.list({ prefix: `${tenant}/` })).objects) {
    for (const line of (await (await env.ARCHIVE.get(object.key))!.text()).split("\n").filter(Boolean)) jobs.push(JSON.parse(line).jobId);
  }
  return jobs.sort();
}

describe("D1 retention", () => {
  it("deletes failures past the age and beyond the row bound, oldest first, counts them, and leaves R2 whole", async () => {
    const tenant = uniqueTenant("d1ret");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE, flushDelayMs: 0 });
    // j0 failed 40 days ago, j1 39 days ago ... j9 31 days ago.
    const jobs = Array.from({ length: 10 }, (_, i) => `j${i}`);
    await stub.record(jobs.map((jobId, i) => failureInput({ jobId, lastFailedAt: FUTURE - (40 - i) * DAY })));
    expect(await runFlush(stub)).toBe(true);
    expect(await d1Jobs(tenant)).toEqual(jobs);

    // Rows that hang off failures: j0 and j9 wait in the recovery queue; one notice is 40 days old.
    const db = await d1Of(tenant);
    const queued = db.prepare(
      `INSERT INTO dlq_recovery_queue (tenant_id, job_id, queue, class, status, reason, enqueued_at, updated_at) VALUES (?, ?, 'q', 'RECOVERABLE', 'exhausted', 'r', ?, ?)`,
    );
    const notice = db.prepare(`INSERT INTO user_notifications (tenant_id, id, user_id, kind, job_id, title, body, created_at) VALUES (?, ?, 'u', 'failure', ?, 't', 'b', ?)`);
    await db.batch([
      queued.bind(tenant, "j0", FUTURE - 40 * DAY, FUTURE - 40 * DAY),
      queued.bind(tenant, "j9", FUTURE - 31 * DAY, FUTURE - 31 * DAY),
      notice.bind(tenant, "n:j0", "j0", FUTURE - 40 * DAY),
      notice.bind(tenant, "n:j9", "j9", FUTURE - 31 * DAY),
    ]);

    // Age: older than 38 days goes (j0, j1); rows: the newest 5 stay (j5..j9).
    expect(await runD1Retention(stub, { maxRowsPerTenant: 5, maxAgeMs: 38 * DAY }, FUTURE)).toBe(true);
    expect(await d1Jobs(tenant)).toEqual(["j5", "j6", "j7", "j8", "j9"]);
    const left = async (table: string, column: string) =>
      (await db.prepare(`SELECT ${column} AS v FROM ${table} WHERE tenant_id = ? ORDER BY 1`).bind(tenant).all<{ v: string }>()).results.map((r) => r.v);
    expect(await left("dlq_recovery_queue", "job_id")).toEqual(["j9"]);
    expect(await left("user_notifications", "id")).toEqual(["n:j9"]);
    expect((await stub.stats()).archive.d1Evicted).toBe(5);
    expect(await archivedJobs(tenant)).toEqual(jobs);
    // The ledger looks at its tenant's D1 rows once a day.
    const dueAt = await runInDurableObject(stub, (_instance: FailureLedger, state) =>
      state.storage.sql.exec<{ due_at: number }>(`SELECT due_at FROM due_work WHERE kind = 'd1-retention'`).one().due_at,
    );
    expect(dueAt).toBe(FUTURE + DAY);

    // Nothing more to do: a second pass deletes nothing and counts nothing.
    expect(await runD1Retention(stub, { maxRowsPerTenant: 5, maxAgeMs: 38 * DAY }, FUTURE)).toBe(true);
    expect(await d1Jobs(tenant)).toHaveLength(5);
    expect((await stub.stats()).archive.d1Evicted).toBe(5);
  });

  it("tries again later when D1 refuses the pass, losing nothing", async () => {
    const tenant = uniqueTenant("d1ret");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: FUTURE, flushDelayMs: 0 });
    await stub.record([failureInput({ jobId: "old", lastFailedAt: FUTURE - 100 * DAY }), failureInput({ jobId: "new", lastFailedAt: FUTURE - DAY })]);
    expect(await runFlush(stub)).toBe(true);

    armFault("d1.batch", { key: tenant });
    expect(await runD1Retention(stub, { maxRowsPerTenant: 100, maxAgeMs: 90 * DAY }, FUTURE)).toBe(true);
    expect(await d1Jobs(tenant)).toEqual(["new", "old"]);
    expect((await stub.stats()).archive.d1Evicted).toBe(0);

    expect(await runD1Retention(stub, { maxRowsPerTenant: 100, maxAgeMs: 90 * DAY }, FUTURE)).toBe(true);
    expect(await d1Jobs(tenant)).toEqual(["new"]);
    expect((await stub.stats()).archive.d1Evicted).toBe(1);
  });
});

describe("D1 retention configuration", () => {
  it("refuses a D1 bound below the ledger's: D1 must keep at least what the ledger holds", async () => {
    const { readConfig } = await import("../../src/config");
    expect(() => readConfig({ ...env, D1_MAX_AGE_DAYS: "7", LEDGER_MAX_AGE_DAYS: "30" })).toThrow(/D1_MAX_AGE_DAYS and D1_MAX_ROWS_PER_TENANT must be at least/);
  });
});
