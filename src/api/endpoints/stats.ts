import { z } from "zod";
import { FAILURE_CLASSES, FAILURE_STATUSES, type FailureClass, type FailureStatus } from "../../model";
import { ApiError } from "../errors";
import { defineRoute } from "../route";
import { CrossTenantStats, LedgerStats } from "../../contract/schemas";
import { TenantParam } from "../tenant";
import { allShards } from "../../sinks/shards";
import { prepare, sql } from "../../sql";

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
    "With a tenant (a tenant token's own, or ?tenant= with the admin token): the tenant ledger's live counters. With the admin token and no tenant: counts across every tenant, from the per-tenant summary rows in D1 (each tenant's counters as of its last flush; one row read per tenant).",
  access: "tenant:read",
  query: StatsQuery,
  responses: { 200: { description: "A tenant's live stats, or (admin, no tenant) the cross-tenant totals", schema: z.union([LedgerStats, CrossTenantStats]) } },
  async handler({ request, env, query, tenant }) {
    if (request.auth?.kind === "admin" && query.tenant === undefined) return crossTenantStats(allShards(env).map((s) => s.db), query.limit ?? 100);
    if (query.limit !== undefined) {
      throw new ApiError(400, "invalid_request", "limit: applies only to cross-tenant stats (the admin token, no tenant)", [
        { path: "limit", message: "applies only to cross-tenant stats" },
      ]);
    }
    return tenant().ledger.stats();
  },
});

const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

type SummaryRow = { tenant_id: string; total: number; by_class: string; by_status: string };

/**
 * Counts across tenants, from every D1 database (a tenant lives in exactly one): each tenant's
 * summary row, its ledger's counters as of its last flush, so no failure row is read.
 */
export async function crossTenantStats(dbs: D1Database[], limit: number): Promise<z.input<typeof CrossTenantStats>> {
  const perDatabase = await Promise.all(dbs.map((db) => prepare(db, sql`SELECT tenant_id, total, by_class, by_status FROM tenant_summaries`).all<SummaryRow>()));
  const byClass = zeros(FAILURE_CLASSES);
  const byStatus = zeros(FAILURE_STATUSES);
  let total = 0;
  const tenants = perDatabase
    .flatMap((r) => r.results)
    .map((row) => {
      const t = { tenant: row.tenant_id, total: row.total, byClass: zeros(FAILURE_CLASSES), byStatus: zeros(FAILURE_STATUSES) };
      total += row.total;
      // Unknown values (written by newer code) count in the totals only.
      for (const [c, n] of Object.entries(JSON.parse(row.by_class) as Record<string, number>)) {
        if (c in byClass) {
          byClass[c as FailureClass] += n;
          t.byClass[c as FailureClass] += n;
        }
      }
      for (const [s, n] of Object.entries(JSON.parse(row.by_status) as Record<string, number>)) {
        if (s in byStatus) {
          byStatus[s as FailureStatus] += n;
          t.byStatus[s as FailureStatus] += n;
        }
      }
      return t;
    });
  const ranked = tenants.sort((a, b) => b.total - a.total || a.tenant.localeCompare(b.tenant));
  return { scope: "all", source: "d1", total, byClass, byStatus, tenantCount: ranked.length, tenants: ranked.slice(0, limit) };
}
