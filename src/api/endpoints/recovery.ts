// Manual recovery: requeue or abandon one failure, and bulk operations by filter.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { JobId } from "../../capture/envelope";
import { FAILURE_CLASSES, FAILURE_STATUSES } from "../../model";
import type { FailureDetail } from "../../ledger/queries";
import type { Refusal } from "../../ledger/ledger";
import { ApiError, notFound } from "../errors";
import { TenantParam, actorOf, ledgerFor, tenantOf } from "../tenant";
import { parseQuery, pathParam, readJson } from "../validate";

const TenantQuery = z.object({ tenant: TenantParam }).strict();

export const RequeueRequest = z
  .object({ delaySeconds: z.number().int().min(0).max(43_200).default(0) })
  .strict()
  .default({ delaySeconds: 0 });

export const AbandonRequest = z.object({ reason: z.string().trim().min(1).max(500) }).strict();

export const OperationFilter = z
  .object({
    class: z.enum(FAILURE_CLASSES).optional(),
    queue: z.string().min(1).max(128).optional(),
    status: z.enum(FAILURE_STATUSES).optional(),
    group: z.string().regex(/^[0-9a-f]{16}$/, "group must be a 16-hex-digit fingerprint").optional(),
    from: z.iso.datetime().transform((t) => Date.parse(t)).optional(),
    to: z.iso.datetime().transform((t) => Date.parse(t)).optional(),
  })
  .strict()
  .refine((f) => f.from === undefined || f.to === undefined || f.from <= f.to, "from must not be after to");

export const OperationRequest = z
  .object({
    action: z.enum(["requeue", "abandon"]),
    filter: OperationFilter,
    rate: z.number().int().min(1).max(1000).default(50),
    dryRun: z.boolean().default(false),
    reason: z.string().trim().min(1).max(500).optional(),
    delaySeconds: z.number().int().min(0).max(43_200).optional(),
  })
  .strict()
  .refine((r) => r.action !== "abandon" || r.dryRun || r.reason !== undefined, { message: "abandon needs a reason", path: ["reason"] });

function answer(result: FailureDetail | Refusal) {
  if ("refused" in result) {
    const status = result.refused === "not_found" ? 404 : result.refused === "conflict" ? 409 : 503;
    throw new ApiError(status, result.refused, result.message);
  }
  return { ...result, body: result.bodyEncoding === "json" ? (JSON.parse(result.body) as unknown) : result.body };
}

export async function requeueFailure(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, TenantQuery));
  const jobId = JobId.parse(pathParam(request, "jobId"));
  const { delaySeconds } = await readJson(request, RequeueRequest, { optional: true });
  return answer(await ledgerFor(env, tenant).requeue(jobId, actorOf(request), delaySeconds));
}

export async function abandonFailure(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, TenantQuery));
  const jobId = JobId.parse(pathParam(request, "jobId"));
  const { reason } = await readJson(request, AbandonRequest);
  return answer(await ledgerFor(env, tenant).abandon(jobId, actorOf(request), reason));
}

export async function failureHistory(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, TenantQuery));
  const jobId = JobId.parse(pathParam(request, "jobId"));
  return { items: await ledgerFor(env, tenant).history(jobId) };
}

export async function createOperation(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, TenantQuery));
  const { dryRun, ...operation } = await readJson(request, OperationRequest);
  const ledger = ledgerFor(env, tenant);
  if (dryRun) return { dryRun: true, action: operation.action, ...(await ledger.previewOperation(operation)) };
  const started = await ledger.startOperation(operation, actorOf(request));
  if ("tooMany" in started) {
    throw new ApiError(422, "too_many", `the filter matches ${started.tooMany} failures; narrow it to at most 100000 per operation`);
  }
  return new Response(JSON.stringify(started), { status: 202, headers: { "content-type": "application/json" } });
}

export async function getOperation(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, TenantQuery));
  const id = z.string().regex(/^op-[0-9a-f-]{36}$/, "not an operation id").parse(pathParam(request, "id"));
  const operation = await ledgerFor(env, tenant).getOperation(id);
  if (!operation) throw notFound(`no operation ${id} in this tenant`);
  return operation;
}
