import { z } from "zod";
import { FAILURE_CLASSES, FAILURE_STATUSES, type FailureClass, type FailureStatus } from "../../model";
import { ApiError } from "../errors";
import { defineRoute } from "../route";
import { CrossTenantStats, LedgerStats } from "../schemas";
import { TenantParam, ledgerFor, tenantOf } from "../tenant";
import { allShards } from "../../sinks/shards";

export const StatsQuery = z
  .object({
    tenant: TenantParam.optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .meta({ description: "Cross-tenant stats only: how many tenants to list (default 100)" }),
  })
  .strict();

export const getStats = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/stats",
  tag: "failures",
  summary: "Live counters of a tenant; for the admin without ?tenant, totals across tenants",
  description:
    "With a tenant (a tenant token's own, or ?tenant= with the admin token): the tenant ledger's live counters. With the admin token and no tenant: counts across every tenant, from D1 (a full scan of the failures table: cheap per call, not free).",
  access: "tenant:read",
  query: StatsQuery,
  responses: { 200: { description: "A tenant's live stats, or (admin, no tenant) the cross-tenant totals", schema: z.union([LedgerStats, CrossTenantStats]) } },
  async handler({ request, env, query }) {
    if (request.auth?.kind === "admin" && query.tenant === undefined) return crossTenantStats(allShards(env).map((s) => s.db), query.limit ?? 100);
    if (query.limit !== undefined) {
      throw new ApiError(400, "invalid_request", "limit: applies only to cross-tenant stats (the admin token, no tenant)", [
        { path: "limit", message: "applies only to cross-tenant stats" },
      ]);
    }
    return ledgerFor(env, tenantOf(request, query)).stats();
  },
});

const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

/** Counts across tenants, from every D1 database (a tenant lives in exactly one). */
export async function crossTenantStats(dbs: D1Database[], limit: number): Promise<z.input<typeof CrossTenantStats>> {
  const perDatabase = await Promise.all(
    dbs.map((db) =>
      db
        .prepare(`SELECT tenant_id, class, status, COUNT(*) AS n FROM failures GROUP BY tenant_id, class, status`)
        .all<{ tenant_id: string; class: FailureClass; status: FailureStatus; n: number }>(),
    ),
  );
  const results = perDatabase.flatMap((r) => r.results);
  const byClass = zeros(FAILURE_CLASSES);
  const byStatus = zeros(FAILURE_STATUSES);
  const tenants = new Map<string, { tenant: string; total: number; byClass: Record<FailureClass, number>; byStatus: Record<FailureStatus, number> }>();
  let total = 0;
  for (const row of results) {
    let t = tenants.get(row.tenant_id);
    if (!t) tenants.set(row.tenant_id, (t = { tenant: row.tenant_id, total: 0, byClass: zeros(FAILURE_CLASSES), byStatus: zeros(FAILURE_STATUSES) }));
    total += row.n;
    t.total += row.n;
    // Unknown values (written by newer code) count in the totals only.
    if (row.class in byClass) {
      byClass[row.class] += row.n;
      t.byClass[row.class] += row.n;
    }
    if (row.status in byStatus) {
      byStatus[row.status] += row.n;
      t.byStatus[row.status] += row.n;
    }
  }
  const ranked = [...tenants.values()].sort((a, b) => b.total - a.total || a.tenant.localeCompare(b.tenant));
  return { scope: "all", source: "d1", total, byClass, byStatus, tenantCount: ranked.length, tenants: ranked.slice(0, limit) };
}
