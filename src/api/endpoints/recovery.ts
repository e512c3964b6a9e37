// Manual recovery: requeue or abandon one failure, and bulk operations by filter.

import { z } from "zod";
import type { FailureDetail } from "../../ledger/store/pages";
import type { Replacement } from "../../ledger/recovery/replace";
import { toBase64 } from "../../bytes";
import { archivedFailure } from "../../sinks/d1";
import { notFound } from "../errors";
import { unlessRefused } from "../refusals";
import { defineRoute, reply } from "../route";
import { FailureClassSchema, FailureStatusSchema, FailureWithBody, History, Operation, OperationList, OperationPreview } from "../../contract/schemas";
import { actorOf, TenantParam } from "../tenant";
import { Fingerprint } from "../validate";
import { JobParams, TenantQuery, noSuchFailure } from "./failures";

/** A replacement body, as sent to the queue, is at most what a queue message may carry. */
export const MAX_REPLACEMENT_BYTES = 128 * 1024;

const utf8Length = (text: string) => new TextEncoder().encode(text).byteLength;

export const RequeueRequest = z
  .object({
    delaySeconds: z.number().int().min(0).max(43_200).default(0).meta({ description: "Delay the send by up to 12 h" }),
    body: z.unknown().optional().meta({
      description:
        "Edit and requeue: send this body instead of the job's own (at most 128 KiB). The ledger stores it redacted, the audit trail records the SHA-256 of the old and new bodies, the archive keeps the original.",
    }),
    bodyEncoding: z
      .enum(["json", "text"])
      .default("json")
      .meta({ description: "json: body is the JSON job body · text: body is a string, sent as its UTF-8 bytes" }),
  })
  .strict()
  .superRefine((r, issues) => {
    if (r.body === undefined) {
      if (r.bodyEncoding !== "json") issues.addIssue({ code: "custom", path: ["bodyEncoding"], message: "bodyEncoding goes with a replacement body" });
      return;
    }
    if (r.bodyEncoding === "text" && typeof r.body !== "string") {
      issues.addIssue({ code: "custom", path: ["body"], message: "a text body must be a string" });
      return;
    }
    const bytes = utf8Length(r.bodyEncoding === "text" ? (r.body as string) : JSON.stringify(r.body));
    if (bytes > MAX_REPLACEMENT_BYTES) {
      issues.addIssue({ code: "custom", path: ["body"], message: `the replacement body is ${bytes} bytes; at most ${MAX_REPLACEMENT_BYTES} (128 KiB)` });
    }
  })
  .default({ delaySeconds: 0, bodyEncoding: "json" });

/** The replacement as the ledger sends it: JSON text, or base64 of a text body's UTF-8 bytes. */
function replacementOf(request: z.output<typeof RequeueRequest>): Replacement | undefined {
  if (request.body === undefined) return undefined;
  if (request.bodyEncoding === "json") return { body: JSON.stringify(request.body), bodyEncoding: "json" };
  return { body: toBase64(new TextEncoder().encode(request.body as string)), bodyEncoding: "base64" };
}

export const AbandonRequest = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

export const OperationFilter = z
  .object({
    class: FailureClassSchema.optional(),
    queue: z.string().min(1).max(128).optional(),
    status: FailureStatusSchema.optional(),
    group: Fingerprint.optional(),
    from: z.iso
      .datetime()
      .transform((t) => Date.parse(t))
      .optional()
      .meta({ description: "lastFailedAt at or after (ISO 8601, UTC)" }),
    to: z.iso
      .datetime()
      .transform((t) => Date.parse(t))
      .optional()
      .meta({ description: "lastFailedAt at or before (ISO 8601, UTC)" }),
  })
  .strict()
  .refine((f) => f.from === undefined || f.to === undefined || f.from <= f.to, "from must not be after to");

export const OperationRequest = z
  .object({
    action: z.enum(["requeue", "abandon"]),
    filter: OperationFilter,
    rate: z.number().int().min(1).max(1000).default(50).meta({ description: "items per second" }),
    dryRun: z.boolean().default(false).meta({ description: "Count and sample the matches; change nothing" }),
    reason: z.string().trim().min(1).max(500).optional().meta({ description: "Required to abandon" }),
    delaySeconds: z.number().int().min(0).max(43_200).optional(),
  })
  .strict()
  .refine((r) => r.action !== "abandon" || r.dryRun || r.reason !== undefined, { message: "abandon needs a reason", path: ["reason"] });

export const OperationParams = z.object({ id: z.string().regex(/^op-[0-9a-f-]{36}$/, "not an operation id") }).strict();

function withBody(result: FailureDetail) {
  return { ...result, body: result.bodyEncoding === "json" ? (JSON.parse(result.body) as unknown) : result.body };
}

export const requeueFailure = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/failures/:jobId/requeue",
  tag: "recovery",
  summary: "Send one failed job back to its origin queue now (or after a delay), optionally with a replacement body",
  description:
    "Edit and requeue: with body, the job is sent with that body exactly as given instead of its own (for a payload fixed by hand). A body that drops the original's tenantId or jobId is refused (409).",
  access: "tenant:operate",
  query: TenantQuery,
  params: JobParams,
  body: { schema: RequeueRequest, optional: true, maxBytes: 2 * MAX_REPLACEMENT_BYTES },
  notFound: noSuchFailure,
  errors: [409, 503],
  responses: { 200: { description: "The failure, now retrying", schema: FailureWithBody } },
  async handler({ request, params, body, tenant }) {
    return withBody(unlessRefused(await tenant().ledger.requeue(params.jobId, actorOf(request), body.delaySeconds, replacementOf(body))));
  },
});

export const abandonFailure = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/failures/:jobId/abandon",
  tag: "recovery",
  summary: "Give up on one failed job, with a reason; it is never retried again",
  access: "tenant:operate",
  query: TenantQuery,
  params: JobParams,
  body: { schema: AbandonRequest },
  notFound: noSuchFailure,
  responses: { 200: { description: "The failure, now abandoned", schema: FailureWithBody } },
  async handler({ request, params, body, tenant }) {
    return withBody(unlessRefused(await tenant().ledger.abandon(params.jobId, actorOf(request), body.reason)));
  },
});

export const failureHistory = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/failures/:jobId/history",
  tag: "recovery",
  summary: "Who requeued or abandoned this failure, and when (newest first)",
  access: "tenant:read",
  query: TenantQuery,
  params: JobParams,
  notFound: noSuchFailure,
  responses: { 200: { description: "The audit trail of the failure (empty when nobody acted on it)", schema: History } },
  async handler({ env, params, tenant }) {
    const { id, ledger } = tenant();
    const items = await ledger.history(params.jobId);
    // No actions: a failure nobody acted on, or no failure at all (which is a 404 like the others).
    if (items.length === 0 && !(await ledger.getFailure(params.jobId)) && !(await archivedFailure(env, id, params.jobId))) {
      throw notFound(noSuchFailure(params));
    }
    return { items };
  },
});

export const createOperation = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/operations",
  tag: "recovery",
  summary: "Requeue or abandon every failure matching a filter, at a rate",
  description:
    "A dry run answers 200 with the count and a sample. Otherwise the matches are snapshotted and worked through in the background: 202 with the operation; poll GET /api/queue/dlq/operations/{id}.",
  access: "tenant:operate",
  query: TenantQuery,
  body: { schema: OperationRequest },
  errors: [422],
  responses: {
    200: { description: "Dry run: what would be affected", schema: OperationPreview },
    202: { description: "Started", schema: Operation },
  },
  async handler({ request, body, tenant }) {
    const { dryRun, ...operation } = body;
    const { ledger } = tenant();
    if (dryRun) return { dryRun: true as const, action: operation.action, ...(await ledger.previewOperation(operation)) };
    return reply(202, unlessRefused(await ledger.startOperation(operation, actorOf(request))));
  },
});

export const noSuchOperation = ({ id }: { id: string }) => `no operation ${id} in this tenant`;

export const getOperation = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/operations/:id",
  tag: "recovery",
  summary: "Progress of a bulk operation",
  access: "tenant:read",
  query: TenantQuery,
  params: OperationParams,
  notFound: noSuchOperation,
  responses: { 200: { description: "The operation", schema: Operation } },
  async handler({ params, tenant }) {
    const operation = await tenant().ledger.getOperation(params.id);
    if (!operation) throw notFound(noSuchOperation(params));
    return operation;
  },
});

export const OperationsQuery = z
  .object({ tenant: TenantParam.optional(), limit: z.coerce.number().int().min(1).max(100).default(20).meta({ description: "How many, newest first" }) })
  .strict();

export const listOperations = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/operations",
  tag: "recovery",
  summary: "The most recent bulk operations of a tenant, newest first",
  access: "tenant:read",
  query: OperationsQuery,
  responses: { 200: { description: "Recent operations with their progress", schema: OperationList } },
  async handler({ query, tenant }) {
    return { items: await tenant().ledger.listOperations(query.limit) };
  },
});
