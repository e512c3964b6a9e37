// Manual recovery: requeue or abandon one failure, and bulk operations by filter.

import { z } from "zod";
import type { FailureDetail } from "../../ledger/queries";
import type { Refusal } from "../../ledger/ledger";
import { archivedFailure } from "../../sinks/d1";
import { ApiError, notFound } from "../errors";
import { defineRoute, reply } from "../route";
import { FailureClassSchema, FailureStatusSchema, FailureWithBody, Fingerprint, History, Operation, OperationPreview } from "../schemas";
import { actorOf, ledgerFor, tenantOf } from "../tenant";
import { JobParams, TenantQuery, noSuchFailure } from "./failures";

export const RequeueRequest = z
  .object({ delaySeconds: z.number().int().min(0).max(43_200).default(0).meta({ description: "Delay the send by up to 12 h" }) })
  .strict()
  .default({ delaySeconds: 0 });

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

function answer(result: FailureDetail | Refusal) {
  if ("refused" in result) {
    const status = result.refused === "not_found" ? 404 : result.refused === "conflict" ? 409 : 503;
    throw new ApiError(status, result.refused, result.message);
  }
  return { ...result, body: result.bodyEncoding === "json" ? (JSON.parse(result.body) as unknown) : result.body };
}

export const requeueFailure = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/failures/:jobId/requeue",
  tag: "recovery",
  summary: "Send one failed job back to its origin queue now (or after a delay)",
  access: "tenant",
  query: TenantQuery,
  params: JobParams,
  body: { schema: RequeueRequest, optional: true },
  notFound: noSuchFailure,
  errors: [409, 503],
  responses: { 200: { description: "The failure, now retrying", schema: FailureWithBody } },
  async handler({ request, env, query, params, body }) {
    return answer(await ledgerFor(env, tenantOf(request, query)).requeue(params.jobId, actorOf(request), body.delaySeconds));
  },
});

export const abandonFailure = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/failures/:jobId/abandon",
  tag: "recovery",
  summary: "Give up on one failed job, with a reason; it is never retried again",
  access: "tenant",
  query: TenantQuery,
  params: JobParams,
  body: { schema: AbandonRequest },
  notFound: noSuchFailure,
  responses: { 200: { description: "The failure, now abandoned", schema: FailureWithBody } },
  async handler({ request, env, query, params, body }) {
    return answer(await ledgerFor(env, tenantOf(request, query)).abandon(params.jobId, actorOf(request), body.reason));
  },
});

export const failureHistory = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/failures/:jobId/history",
  tag: "recovery",
  summary: "Who requeued or abandoned this failure, and when (newest first)",
  access: "tenant",
  query: TenantQuery,
  params: JobParams,
  notFound: noSuchFailure,
  responses: { 200: { description: "The audit trail of the failure (empty when nobody acted on it)", schema: History } },
  async handler({ request, env, query, params }) {
    const tenant = tenantOf(request, query);
    const ledger = ledgerFor(env, tenant);
    const items = await ledger.history(params.jobId);
    // No actions: a failure nobody acted on, or no failure at all (which is a 404 like the others).
    if (items.length === 0 && !(await ledger.getFailure(params.jobId)) && !(await archivedFailure(env, tenant, params.jobId))) {
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
  access: "tenant",
  query: TenantQuery,
  body: { schema: OperationRequest },
  errors: [422],
  responses: {
    200: { description: "Dry run: what would be affected", schema: OperationPreview },
    202: { description: "Started", schema: Operation },
  },
  async handler({ request, env, query, body }) {
    const { dryRun, ...operation } = body;
    const ledger = ledgerFor(env, tenantOf(request, query));
    if (dryRun) return { dryRun: true as const, action: operation.action, ...(await ledger.previewOperation(operation)) };
    const started = await ledger.startOperation(operation, actorOf(request));
    if ("tooMany" in started) {
      throw new ApiError(422, "too_many", `the filter matches ${started.tooMany} failures; narrow it to at most 100000 per operation`);
    }
    return reply(202, started);
  },
});

export const noSuchOperation = ({ id }: { id: string }) => `no operation ${id} in this tenant`;

export const getOperation = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/operations/:id",
  tag: "recovery",
  summary: "Progress of a bulk operation",
  access: "tenant",
  query: TenantQuery,
  params: OperationParams,
  notFound: noSuchOperation,
  responses: { 200: { description: "The operation", schema: Operation } },
  async handler({ request, env, query, params }) {
    const operation = await ledgerFor(env, tenantOf(request, query)).getOperation(params.id);
    if (!operation) throw notFound(noSuchOperation(params));
    return operation;
  },
});
