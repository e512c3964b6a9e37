import { AutoRouter, type IRequest } from "itty-router";
import { readConfig } from "../config";
import { getFailure, listFailures } from "./endpoints/failures";
import { getStats } from "./endpoints/stats";
import { listGroups } from "./endpoints/groups";
import { listParked } from "./endpoints/parking";
import { abandonFailure, createOperation, failureHistory, getOperation, requeueFailure } from "./endpoints/recovery";
import { postDemoJobs, postRawDeadLetter } from "./endpoints/dev";
import { ApiError, errorResponse, toErrorResponse } from "./errors";

type Args = [Env, ExecutionContext];

/** Every path the API serves, with its methods, so a wrong method gets 405 rather than 404. */
const ROUTES: [RegExp, string[]][] = [
  [/^\/health$/, ["GET"]],
  [/^\/api\/queue\/dlq\/stats$/, ["GET"]],
  [/^\/api\/queue\/dlq\/failures$/, ["GET"]],
  [/^\/api\/queue\/dlq\/failures\/[^/]+$/, ["GET"]],
  [/^\/api\/queue\/dlq\/failures\/[^/]+\/(requeue|abandon)$/, ["POST"]],
  [/^\/api\/queue\/dlq\/failures\/[^/]+\/history$/, ["GET"]],
  [/^\/api\/queue\/dlq\/operations$/, ["POST"]],
  [/^\/api\/queue\/dlq\/operations\/[^/]+$/, ["GET"]],
  [/^\/api\/queue\/dlq\/groups$/, ["GET"]],
  [/^\/api\/queue\/dlq\/parking$/, ["GET"]],
  [/^\/dev\/jobs$/, ["POST"]],
  [/^\/dev\/dlq$/, ["POST"]],
];

function missing(request: IRequest): Response {
  const path = new URL(request.url).pathname;
  const route = ROUTES.find(([pattern]) => pattern.test(path));
  if (route) {
    return errorResponse(405, "method_not_allowed", `${request.method} is not allowed here; use ${route[1].join(", ")}`, undefined, {
      allow: route[1].join(", "),
    });
  }
  return errorResponse(404, "not_found", `no route for ${request.method} ${path}`);
}

function devOnly(_request: IRequest, env: Env) {
  if (!readConfig(env).devRoutes) throw new ApiError(404, "not_found", "the /dev routes exist only in local development");
}

export const router = AutoRouter<IRequest, Args>({ catch: toErrorResponse, missing })
  .get("/health", () => ({ ok: true }))
  .get("/api/queue/dlq/stats", getStats)
  .get("/api/queue/dlq/failures", listFailures)
  .get("/api/queue/dlq/failures/:jobId", getFailure)
  .get("/api/queue/dlq/failures/:jobId/history", failureHistory)
  .post("/api/queue/dlq/failures/:jobId/requeue", requeueFailure)
  .post("/api/queue/dlq/failures/:jobId/abandon", abandonFailure)
  .post("/api/queue/dlq/operations", createOperation)
  .get("/api/queue/dlq/operations/:id", getOperation)
  .get("/api/queue/dlq/groups", listGroups)
  .get("/api/queue/dlq/parking", listParked)
  .post("/dev/jobs", devOnly, postDemoJobs)
  .post("/dev/dlq", devOnly, postRawDeadLetter);
