import { z } from "zod";
import { notFound } from "../errors";
import { defineRoute } from "../route";
import { FailureSeries } from "../../contract/schemas";
import { TenantParam } from "../tenant";
import { Fingerprint } from "../validate";

export const SeriesQuery = z
  .object({
    tenant: TenantParam.optional(),
    group: Fingerprint.optional().meta({ description: "One group's series instead of the whole tenant's" }),
  })
  .strict();

const noSuchGroup = () => "no such group in this tenant";

export const getSeries = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/series",
  tag: "failures",
  summary: "Failures over time: per minute (last hour), per hour (last 24 h), per day (last 14 days)",
  description:
    "Kept as counters in the tenant's ledger, updated as it flushes (every few seconds), never by scanning failures. Buckets are by when the ledger recorded each failure (UTC). The groups list carries each group's last 24 hours as a sparkline.",
  access: "tenant:read",
  query: SeriesQuery,
  notFound: noSuchGroup,
  responses: { 200: { description: "The series", schema: FailureSeries } },
  async handler({ query, tenant }) {
    const { id, ledger } = tenant();
    const series = await ledger.series(query.group);
    if (!series) throw notFound(noSuchGroup());
    return { tenant: id, group: query.group ?? null, ...series };
  },
});
