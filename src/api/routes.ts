// The route table: every route the worker serves, in one list. The router registers exactly
// these (and answers 405 from them), and GET /api/openapi.json documents exactly these.

import { z } from "zod";
import { readConfig } from "../config";
import { forwardDemoJobs, postRawDeadLetter } from "./endpoints/dev";
import { getFailure, listFailures } from "./endpoints/failures";
import { acknowledgeGroup, getGroup, groupHistory, listGroups, reopenGroup, resolveGroup } from "./endpoints/groups";
import { createLiveTicket, openLive } from "./endpoints/live";
import { getMetrics } from "./endpoints/metrics";
import { listNotifications, markNotificationsRead } from "./endpoints/notifications";
import { listParked } from "./endpoints/parking";
import { abandonFailure, createOperation, failureHistory, getOperation, listOperations, requeueFailure } from "./endpoints/recovery";
import { getSeries } from "./endpoints/series";
import { getSession } from "./endpoints/session";
import { getStats } from "./endpoints/stats";
import { createToken, listTokens, revokeToken } from "./endpoints/tokens";
import { openApiDocument } from "./openapi";
import { defineRoute, reply, type Route } from "./route";
import { Health } from "../contract/schemas";

const health = defineRoute({
  method: "GET",
  path: "/health",
  tag: "operations",
  summary: "Liveness: the worker answers",
  access: "public",
  responses: { 200: { description: "Up", schema: Health } },
  handler: () => ({ ok: true as const }),
});

const documents = new Map<boolean, Record<string, unknown>>();

const openapi = defineRoute({
  method: "GET",
  path: "/api/openapi.json",
  tag: "operations",
  summary: "This document: OpenAPI 3.1, generated from the route table",
  access: "token",
  responses: { 200: { description: "The OpenAPI document", schema: z.record(z.string(), z.unknown()) } },
  handler: ({ env }) => {
    // The table is fixed at build time: one document per isolate (and DEV_ROUTES setting).
    const devRoutes = readConfig(env).devRoutes;
    let document = documents.get(devRoutes);
    if (!document) documents.set(devRoutes, (document = openApiDocument(ROUTES, { devRoutes })));
    return document;
  },
});

const DevAccepted = z.record(z.string(), z.unknown());

const devJobs = defineRoute({
  method: "POST",
  path: "/dev/jobs",
  tag: "dev",
  summary: "Local development: enqueue demo jobs through the example worker's producer",
  description:
    'Forwarded to examples/jobs-worker (POST /jobs), which enqueues them on its queue `jobs`: { tenantId, jobId?, userId?, count?, fail: "none" | "crash" | { message, status?, code?, name? }, succeedAfter? }.',
  access: "dev",
  body: { schema: z.record(z.string(), z.unknown()), maxBytes: 64 * 1024, raw: { contentTypes: ["application/json"] } },
  responses: { 202: { description: "Enqueued", schema: DevAccepted } },
  // 503: the example worker is not bound or failed, or its queue refused the send.
  errors: [503],
  handler: async ({ request, env }) => forwardDemoJobs(request, env),
});

const devDlq = defineRoute({
  method: "POST",
  path: "/dev/dlq",
  tag: "dev",
  summary: "Local development: put any body straight on the dead-letter queue",
  description: "JSON goes to the DLQ as JSON; anything else as the exact bytes received (at most 128 KiB).",
  access: "dev",
  body: { schema: z.unknown(), maxBytes: 128 * 1024, raw: { contentTypes: ["application/json", "application/octet-stream"] } },
  responses: { 202: { description: "Sent", schema: DevAccepted } },
  handler: async ({ request, env }) => reply(202, (await (await postRawDeadLetter(request, env)).json()) as Record<string, unknown>),
});

export const ROUTES: readonly Route[] = [
  health,
  getMetrics,
  openapi,
  getSession,
  getStats,
  listFailures,
  getFailure,
  failureHistory,
  requeueFailure,
  abandonFailure,
  createOperation,
  listOperations,
  getOperation,
  listGroups,
  getGroup,
  resolveGroup,
  acknowledgeGroup,
  reopenGroup,
  groupHistory,
  getSeries,
  listParked,
  createLiveTicket,
  openLive,
  listNotifications,
  markNotificationsRead,
  createToken,
  listTokens,
  revokeToken,
  devJobs,
  devDlq,
];
