// Migration 0011 on a database written by the previous schema: the indexes no query uses go, the
// tenants' summaries are filled from the failures already there, and the cross-tenant answers are
// the ones the previous code gave. Then the new writes land on the old rows. Migration 0013 keys
// the inbox by user: the notices already there stay, and a notice is one row written.
import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { crossTenantStats } from "../../src/api/endpoints/stats";
import type { D1FailureState } from "../../src/model";
import { failureStatements, noticeStatements, summaryStatement } from "../../src/sinks/d1";
import { pruneTenant } from "../../src/sinks/d1-retention";
import { listInbox, markInboxRead } from "../../src/sinks/inbox";

const db = env.MIGRATION_DB;
const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.UTC(2026, 5, 1);

/** A failures row as the code before 0011 wrote it (all 20 columns, user_id indexed). */
function oldRow(tenant: string, jobId: string, cls: string, status: string, lastFailedAt: number, occurrences = 1) {
  return db
    .prepare(
      `INSERT INTO failures (tenant_id, job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
         error_name, error_message, error_status, error_code, first_failed_at, last_failed_at,
         archive_key, archive_offset, archive_length, updated_at)
       VALUES (?, ?, 'user-1', 'jobs', ?, 'r', ?, 2, ?, 'fp', 'Error', 'boom', 500, NULL, ?, ?, ?, 0, 100, ?)`,
    )
    .bind(tenant, jobId, cls, status, occurrences, lastFailedAt - DAY, lastFailedAt, `${tenant}/segment-${jobId}`, lastFailedAt);
}

/** What the previous cross-tenant stats grouped from every failure row. */
async function previousAnswer() {
  const { results } = await db
    .prepare(`SELECT tenant_id, class, status, COUNT(*) AS n FROM failures GROUP BY tenant_id, class, status`)
    .all<{ tenant_id: string; class: string; status: string; n: number }>();
  const tenants = new Map<string, { total: number; byClass: Record<string, number>; byStatus: Record<string, number> }>();
  for (const r of results) {
    const t = tenants.get(r.tenant_id) ?? { total: 0, byClass: {}, byStatus: {} };
    t.total += r.n;
    t.byClass[r.class] = (t.byClass[r.class] ?? 0) + r.n;
    t.byStatus[r.status] = (t.byStatus[r.status] ?? 0) + r.n;
    tenants.set(r.tenant_id, t);
  }
  return tenants;
}

const indexesOn = async (table: string) =>
  (await db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? ORDER BY name`).bind(table).all<{ name: string }>()).results.map(
    (r) => r.name,
  );

let before: Awaited<ReturnType<typeof previousAnswer>>;

beforeAll(async () => {
  await applyD1Migrations(
    db,
    env.TEST_MIGRATIONS.filter((m) => m.name < "0011"),
  );
  await db.batch([
    oldRow("alpha", "a1", "USER_ERROR", "open", NOW - 2 * DAY, 3),
    oldRow("alpha", "a2", "USER_ERROR", "exhausted", NOW - 200 * DAY),
    oldRow("alpha", "a3", "SYSTEM_ERROR", "recovered", NOW - DAY),
    oldRow("beta", "b1", "RECOVERABLE", "open", NOW - DAY),
    ...[1, 2, 3].map((i) =>
      db
        .prepare(`INSERT INTO user_notifications (tenant_id, id, user_id, kind, job_id, title, body, created_at, read_at) VALUES ('alpha', ?, 'u1', 'failure', ?, 't', 'b', ?, ?)`)
        .bind(`n:a${i}`, `a${i}`, NOW - 200 * DAY + i, i === 1 ? NOW : null),
    ),
  ]);
  before = await previousAnswer();
  await applyD1Migrations(db, env.TEST_MIGRATIONS);
});

describe("migration 0011 on data the previous schema wrote", () => {
  it("keeps only the indexes a query uses", async () => {
    expect(await indexesOn("failures")).toEqual([]);
    expect(await indexesOn("failure_groups")).toEqual([]);
    expect(await indexesOn("dlq_recovery_queue")).toEqual([]);
    expect(await indexesOn("user_notifications")).toEqual([]);
  });

  it("keeps the inbox's notices, writes a new one as one row and once, and pages the inbox newest first", async () => {
    const notice = (id: string, createdAt: number) => ({
      id,
      kind: "failure" as const,
      tenantId: "alpha",
      userId: "u1",
      jobId: id.slice(2),
      title: "t",
      body: "b",
      createdAt,
    });
    const written = async (n: ReturnType<typeof notice>) =>
      (await db.batch(noticeStatements(db, "alpha", [n]))).reduce((sum, r) => sum + (r.meta.rows_written ?? 0), 0);
    expect(await written(notice("n:a4", NOW))).toBe(1);
    expect(await written(notice("n:a4", NOW))).toBe(0);
    const inbox = await listInbox(db, "alpha", { userId: "u1", unread: false, limit: 3 });
    expect(inbox.items.map((i) => [i.id, i.readAt !== null])).toEqual([
      ["n:a4", false],
      ["n:a3", false],
      ["n:a2", false],
    ]);
    expect(inbox.unread).toBe(3);
    const rest = await listInbox(db, "alpha", { userId: "u1", unread: false, limit: 3, after: inbox.next! });
    expect(rest.items.map((i) => i.id)).toEqual(["n:a1"]);
    expect(await markInboxRead(db, "alpha", "u1", ["n:a3", "n:a1"], NOW)).toBe(1);
  });

  it("answers the cross-tenant stats as the previous code did", async () => {
    const stats = await crossTenantStats([db], 100);
    expect(stats).toMatchObject({ total: 4, tenantCount: 2, byClass: { USER_ERROR: 2, SYSTEM_ERROR: 1, RECOVERABLE: 1, UNKNOWN: 0 } });
    expect(stats.byStatus).toMatchObject({ open: 2, exhausted: 1, recovered: 1 });
    for (const t of stats.tenants) {
      const was = before.get(t.tenant)!;
      expect(t.total).toBe(was.total);
      expect(Object.fromEntries(Object.entries(t.byClass).filter(([, n]) => n > 0))).toEqual(was.byClass);
      expect(Object.fromEntries(Object.entries(t.byStatus).filter(([, n]) => n > 0))).toEqual(was.byStatus);
    }
    expect(stats.tenants.map((t) => t.tenant)).toEqual(["alpha", "beta"]);
  });

  it("lets a flush update an old row at the cost of one row written, keeping what it does not set", async () => {
    const repeat: D1FailureState = {
      jobId: "a1",
      userId: "someone-else",
      queue: "jobs",
      class: "USER_ERROR",
      reason: "r",
      status: "open",
      attempts: 4,
      occurrences: 4,
      group: "fp",
      error: { name: "Error", message: "boom again", status: 500 },
      firstFailedAt: NOW - 3 * DAY,
      lastFailedAt: NOW,
      archive: null,
    };
    const fresh: D1FailureState = { ...repeat, jobId: "a4", occurrences: 1, attempts: 1, firstFailedAt: NOW, archive: { key: "alpha/seg", offset: 7, length: 9 } };
    const results = await db.batch(failureStatements(db, "alpha", [repeat, fresh], NOW));
    expect(results.reduce((n, r) => n + (r.meta.rows_written ?? 0), 0)).toBe(2);

    const row = await db.prepare(`SELECT * FROM failures WHERE tenant_id = 'alpha' AND job_id = 'a1'`).first<Record<string, unknown>>();
    expect(row).toMatchObject({
      user_id: "user-1",
      occurrences: 4,
      attempts: 4,
      error_message: "boom again",
      first_failed_at: NOW - 3 * DAY,
      last_failed_at: NOW,
      archive_key: "alpha/segment-a1",
      archive_length: 100,
    });
    expect(await db.prepare(`SELECT archive_key, archive_offset FROM failures WHERE job_id = 'a4'`).first()).toEqual({ archive_key: "alpha/seg", archive_offset: 7 });
  });

  it("replaces the migrated summary with the ledger's counters, and never with an older flush's", async () => {
    const counters = { total: 9, occurrences: 12, byClass: { USER_ERROR: 9 }, byStatus: { open: 9 } };
    await summaryStatement(db, "beta", counters, NOW).run();
    await summaryStatement(db, "beta", { ...counters, total: 1 }, NOW - 1).run();
    const stats = await crossTenantStats([db], 100);
    expect(stats.tenants.find((t) => t.tenant === "beta")).toMatchObject({ total: 9, byClass: { USER_ERROR: 9, RECOVERABLE: 0 } });
    expect(stats.tenants[0]!.tenant).toBe("beta");
  });

  it("prunes by age and by rows without an index", async () => {
    const policy = { maxRowsPerTenant: 1_000, maxAgeMs: 90 * DAY };
    expect(await pruneTenant(db, "alpha", policy, NOW)).toEqual({ deleted: 1, more: false });
    // The notices past the same age went with it; the one of today stays.
    expect((await listInbox(db, "alpha", { userId: "u1", unread: false, limit: 10 })).items.map((i) => i.id)).toEqual(["n:a4"]);
    const jobs = async () => (await db.prepare(`SELECT job_id FROM failures WHERE tenant_id = 'alpha' ORDER BY job_id`).all<{ job_id: string }>()).results.map((r) => r.job_id);
    expect(await jobs()).toEqual(["a1", "a3", "a4"]);
    // Held to one row: the newest stays.
    expect(await pruneTenant(db, "alpha", { maxRowsPerTenant: 1, maxAgeMs: 90 * DAY }, NOW + DAY)).toEqual({ deleted: 2, more: false });
    expect(await jobs()).toEqual(["a4"]);
  });
});
