// Tenants spread over two local D1 databases (D1_SHARDS = "DB,DB_2" in vitest.config.ts).
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { allShards, forgetAssignments, shardFor, shardIfAssigned } from "../../src/sinks/shards";
import { apiFetch } from "../support/api";
import { FUTURE, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";

async function flushOneFailure(tenant: string, jobId = "j1") {
  const stub = ledger(tenant);
  await tuneLedger(stub, { now: FUTURE, flushDelayMs: 0 });
  await stub.record([failureInput({ jobId, lastFailedAt: FUTURE - 1000 })]);
  expect(await runFlush(stub)).toBe(true);
}

const rowsIn = async (db: D1Database, tenant: string) =>
  (await db.prepare(`SELECT COUNT(*) AS n FROM failures WHERE tenant_id = ?`).bind(tenant).first<{ n: number }>())!.n;

const recorded = async (tenant: string) =>
  (await env.DB.prepare(`SELECT shard FROM tenant_shards WHERE tenant_id = ?`).bind(tenant).first<{ shard: string }>())?.shard ?? null;

describe("D1 shards", () => {
  it("spreads tenants over every database, each tenant's rows in exactly the one the primary records", async () => {
    const tenants = Array.from({ length: 16 }, () => uniqueTenant("shard"));
    for (const tenant of tenants) await flushOneFailure(tenant);
    const used = new Set<string>();
    for (const tenant of tenants) {
      const shard = await recorded(tenant);
      expect(shard === "DB" || shard === "DB_2").toBe(true);
      used.add(shard!);
      expect(await rowsIn(env.DB, tenant)).toBe(shard === "DB" ? 1 : 0);
      expect(await rowsIn(env.DB_2, tenant)).toBe(shard === "DB_2" ? 1 : 0);
      // The API reads it back from the right database, whichever it is.
      const res = await apiFetch(`/api/queue/dlq/failures/j1?tenant=${tenant}`);
      expect(res.status).toBe(200);
    }
    expect(used).toEqual(new Set(["DB", "DB_2"]));
  });

  it("moves no tenant when a database is added; new tenants spread over the longer list", async () => {
    const oneDatabase = { ...env, D1_SHARDS: "DB" };
    const before = Array.from({ length: 12 }, () => uniqueTenant("early"));
    for (const tenant of before) expect(await shardFor(oneDatabase, tenant)).toBe(env.DB);

    // DB_2 is added (the test env lists both), in a fresh isolate that must read the record.
    forgetAssignments();
    for (const tenant of before) {
      expect(await shardFor(env, tenant)).toBe(env.DB);
      expect(await recorded(tenant)).toBe("DB");
    }
    const after = Array.from({ length: 16 }, () => uniqueTenant("late"));
    const placed = await Promise.all(after.map((t) => shardFor(env, t)));
    expect(placed.some((db) => db === env.DB_2)).toBe(true);
  });

  it("refuses to guess when a tenant's database was removed from D1_SHARDS", async () => {
    const tenant = uniqueTenant("gone");
    await env.DB.prepare(`INSERT INTO tenant_shards (tenant_id, shard, assigned_at) VALUES (?, 'DB_2', 0)`).bind(tenant).run();
    forgetAssignments();
    await expect(shardFor({ ...env, D1_SHARDS: "DB" }, tenant)).rejects.toThrow(/D1_SHARDS no longer lists: never remove a database/);
  });

  it("names a binding that does not exist, and reads nothing for a tenant that never flushed", async () => {
    expect(() => allShards({ ...env, D1_SHARDS: "DB,DB_9" })).toThrow(/no D1 binding of that name/);
    expect(await shardIfAssigned(env, uniqueTenant("never"))).toBeNull();
    expect(await recorded(uniqueTenant("never"))).toBeNull();
  });

  it("answers the admin's cross-tenant views from every database", async () => {
    const tenants = Array.from({ length: 10 }, () => uniqueTenant("cross"));
    for (const tenant of tenants) await flushOneFailure(tenant);
    const shards = await Promise.all(tenants.map(recorded));
    expect(new Set(shards)).toEqual(new Set(["DB", "DB_2"]));

    const stats = await (await apiFetch(`/api/queue/dlq/stats?limit=1000`)).json<{ tenants: { tenant: string; total: number }[] }>();
    for (const tenant of tenants) expect(stats.tenants.find((t) => t.tenant === tenant)?.total).toBe(1);

    const metrics = await (await apiFetch(`/metrics`)).text();
    for (const tenant of tenants) expect(metrics).toContain(`dlq_failures_recorded_total{tenant="${tenant}"} 1`);
  });
});
