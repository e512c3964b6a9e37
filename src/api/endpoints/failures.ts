import { z } from "zod";
import { JobId } from "../../envelope";
import { readArchivedLine } from "../../sinks/archive";
import { archivedFailure } from "../../sinks/d1";
import { Cursor, encodeCursor } from "../cursor";
import { notFound } from "../errors";
import { defineRoute } from "../route";
import { FailureClassSchema, FailurePage, FailureStatusSchema, FailureView } from "../../contract/schemas";
import { TenantParam } from "../tenant";
import { Fingerprint } from "../validate";

export const TenantQuery = z.object({ tenant: TenantParam.optional() }).strict();

export const BodyFieldPath = z
  .string()
  .max(200)
  .regex(/^[A-Za-z_$][\w$-]*(\[\d{1,6}\])*(\.[A-Za-z_$][\w$-]*(\[\d{1,6}\])*)*$/, "field must be a dotted path of keys, e.g. userId or customer.id or items[0].sku");

export const FailuresQuery = z
  .object({
    tenant: TenantParam.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50).meta({ description: "page size" }),
    cursor: Cursor.optional(),
    class: FailureClassSchema.optional(),
    queue: z.string().min(1).max(128).optional(),
    status: FailureStatusSchema.optional(),
    group: Fingerprint.optional(),
    q: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .optional()
      .meta({ description: "Search: case-insensitive (ASCII) substring of the job id, error message, reason or stored (redacted) JSON body" }),
    field: BodyFieldPath.optional().meta({ description: "With value: a JSON body field, as a dotted path (userId, customer.id, items[0].sku)" }),
    value: z.string().max(1000).optional().meta({ description: "With field: the field's value, exactly (compared as text: 42, true, u-42)" }),
  })
  .strict()
  .refine((q) => (q.field === undefined) === (q.value === undefined), { message: "field and value go together", path: ["field"] });

export const JobParams = z.object({ jobId: JobId.meta({ description: "The job's id, as the producer set it" }) }).strict();

/** The one 404 of every route about one failure (a tenant token naming another tenant gets it too). */
export const noSuchFailure = ({ jobId }: { jobId: string }) => `no failure with jobId ${JSON.stringify(jobId)} in this tenant`;

export const listFailures = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/failures",
  tag: "failures",
  summary: "List failures, newest first",
  description:
    "Keyset-paginated: follow nextCursor until it is null. Filters and the search (q, field=value) combine with AND. A filtered page looks at no more than 10,000 failures (a searched one at 2,000), so it may hold fewer items than limit (even none) while nextCursor is not null: keep following it.",
  access: "tenant:read",
  query: FailuresQuery,
  responses: { 200: { description: "One page of failures", schema: FailurePage } },
  async handler({ query, tenant }) {
    const { tenant: _, cursor, field, value, ...filters } = query;
    const after = cursor && { lastFailedAt: cursor.at, jobId: cursor.id };
    const match = field !== undefined && value !== undefined ? { field: { path: field, value } } : {};
    const page = await tenant().ledger.listFailures({ ...filters, ...match, after });
    return { items: page.items, nextCursor: page.next ? encodeCursor({ at: page.next.lastFailedAt, id: page.next.jobId }) : null };
  },
});

/**
 * One failure: live from the ledger while it is in the hot window, and with its archived
 * envelope read back from R2 by range once the outbox has flushed it. After the ledger evicted
 * it, D1 and R2 still answer.
 */
export const getFailure = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/failures/:jobId",
  tag: "failures",
  summary: "One failure, with its body and archive",
  access: "tenant:read",
  query: TenantQuery,
  params: JobParams,
  notFound: noSuchFailure,
  responses: { 200: { description: "The failure", schema: FailureView } },
  async handler({ env, params, tenant }) {
    const { id, ledger } = tenant();
    const { jobId } = params;
    const [live, record] = await Promise.all([ledger.getFailure(jobId), archivedFailure(env, id, jobId)]);
    const envelope = record?.archive ? await readArchivedLine(env.ARCHIVE, record.archive.key, record.archive.offset, record.archive.length) : null;
    const archive = record?.archive ? { ...record.archive, envelope } : null;
    if (live) {
      const body = live.bodyEncoding === "json" ? (JSON.parse(live.body) as unknown) : live.body;
      return { ...live, body, source: "ledger" as const, archive };
    }
    if (record) {
      const { archive: _, ...summary } = record;
      return { ...summary, body: envelope?.body ?? null, bodyEncoding: envelope?.bodyEncoding ?? null, source: "archive" as const, archive };
    }
    throw notFound(noSuchFailure(params));
  },
});
