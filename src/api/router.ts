// The worker's HTTP surface, built from the route table: each route is registered with one
// handler that authenticates, rate-limits, validates and answers in the one error shape.

import { Router, type IRequest } from "itty-router";
import { readConfig } from "../config";
import { authenticate, enforceRateLimit } from "./auth";
import { corsHeaders, preflight } from "./cors";
import { errorResponse } from "../contract/errors";
import { ApiError, toErrorResponse } from "./errors";
import { isReply, isTenantRoute, permits, scopeNeeded, type ApiRequest, type Needed, type Route } from "./route";
import { ROUTES } from "./routes";
import { tenantLedger } from "./tenant";
import { pathParam, readBodyBytes, readJson } from "./validate";

type Args = [Env, ExecutionContext];

const DEFAULT_BODY_LIMIT = 64 * 1024;

function serve(route: Route) {
  const [first] = Object.entries(route.responses);
  const defaultStatus = Number(first![0]);
  const textType = first && "text" in first[1] ? first[1].text : null;

  return async (request: ApiRequest, env: Env, ctx: ExecutionContext): Promise<Response> => {
    if (route.access === "dev" && !readConfig(env).devRoutes) throw new ApiError(404, "not_found", "the /dev routes exist only in local development");
    if (route.access !== "public" && route.access !== "dev" && route.access !== "ticket") {
      const auth = await authenticate(request, env);
      const needed = scopeNeeded(route);
      if (needed && !permits(auth.scope, needed)) throw forbidden(needed);
      await enforceRateLimit(env, auth);
      request.auth = auth;
    }
    // Parsed in order, path first: a bad id is reported before anything else.
    const rawParams: Record<string, string> = {};
    for (const name of Object.keys(request.params ?? {})) rawParams[name] = pathParam(request, name);
    const params = route.params ? route.params.parse(rawParams) : {};
    request.served = { route, params: params as Record<string, string> };
    const query = route.query ? route.query.parse({ ...request.query }) : rejectQuery(request);
    let body: unknown;
    if (route.body && !route.body.raw) {
      body = await readJson(request, route.body.schema, { maxBytes: route.body.maxBytes ?? DEFAULT_BODY_LIMIT, optional: route.body.optional });
    } else if (!route.body && request.method !== "GET" && request.method !== "HEAD") {
      // A body where none is taken is refused too, so nobody believes it was read.
      if ((await readBodyBytes(request, DEFAULT_BODY_LIMIT)).byteLength > 0) {
        throw new ApiError(400, "invalid_request", `${route.method} ${route.path} takes no body`);
      }
    }

    const tenant = isTenantRoute(route) ? () => tenantLedger(request, env, query) : undefined;
    const result = await route.handler({ request, env, ctx, query, params, body, tenant });
    if (result instanceof Response) return result; // a WebSocket upgrade, answered by the ledger
    const [status, payload] = isReply(result) ? [result.status, result.body] : [defaultStatus, result];
    if (textType !== null && typeof payload === "string") return new Response(payload, { status, headers: { "content-type": textType } });
    return Response.json(payload, { status });
  };
}

/** A valid token without the scope the route needs: 403, not 404 (it may see the tenant). */
function forbidden(needed: Needed): ApiError {
  return needed === "admin"
    ? new ApiError(403, "forbidden", "this route needs the admin token")
    : new ApiError(403, "forbidden", `this route needs a token with scope ${needed}; this token's scope is read (ask an admin for an operate token)`);
}

/** A route that takes no query parameters still refuses them: strict, like every schema. */
function rejectQuery(request: IRequest): Record<string, never> {
  const names = Object.keys(request.query ?? {});
  if (names.length > 0) throw new ApiError(400, "invalid_request", `unexpected query parameter${names.length > 1 ? "s" : ""}: ${names.join(", ")}`);
  return {};
}

const base = Router<IRequest, Args>({
  before: [preflight],
  catch: toErrorResponse,
  finally: [(response: Response | undefined, request: IRequest, env: Env) => corsHeaders(response ?? missing(request), request, env)],
});
for (const route of ROUTES) base[route.method.toLowerCase() as "get" | "post" | "delete"](route.path, serve(route));

/** Methods served at a path, from the table. */
export function allowedMethods(path: string): string[] {
  return base.routes.filter(([, pattern]) => pattern.test(path)).map(([method]) => method);
}

/** No route matched: 405 with Allow when the path exists under another method, else 404. */
function missing(request: IRequest): Response {
  const path = new URL(request.url).pathname;
  const allowed = allowedMethods(path);
  if (allowed.length > 0) {
    return errorResponse(405, "method_not_allowed", `${request.method} is not allowed here; use ${allowed.join(", ")}`, undefined, {
      allow: allowed.join(", "),
    });
  }
  return errorResponse(404, "not_found", `no route for ${request.method} ${path}`);
}

export const router = { fetch: (request: Request, env: Env, ctx: ExecutionContext) => base.fetch(request, env, ctx) };
