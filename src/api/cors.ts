// CORS only when CORS_ORIGINS names origins (or "*"). Unset or empty: no CORS headers, and a
// preflight is just an OPTIONS request nobody serves (405), so browsers elsewhere are refused.

import type { IRequest } from "itty-router";
import { ApiError } from "./errors";

const cache = new Map<string, { any: boolean; origins: Set<string> }>();

function allowedOrigins(env: Env): { any: boolean; origins: Set<string> } {
  const raw = env.CORS_ORIGINS ?? "";
  let parsed = cache.get(raw);
  if (!parsed) {
    const list = raw
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean);
    for (const origin of list) {
      if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) {
        throw new Error(`Invalid configuration: CORS_ORIGINS entries must be origins like https://ops.example.com (no path), or "*"; got ${JSON.stringify(origin)}. Fix the [vars] in wrangler.toml.`);
      }
    }
    parsed = { any: list.includes("*"), origins: new Set(list) };
    cache.set(raw, parsed);
  }
  return parsed;
}

function allows(env: Env, origin: string | null): origin is string {
  if (origin === null) return false;
  const allowed = allowedOrigins(env);
  return allowed.any || allowed.origins.has(origin);
}

/** Answers a CORS preflight from an allowed origin; anything else goes on to the routes. */
export function preflight(request: IRequest, env: Env): Response | undefined {
  if (request.method !== "OPTIONS" || !request.headers.get("access-control-request-method")) return undefined;
  const origin = request.headers.get("origin");
  if (!allowedOrigins(env).origins.size) return undefined;
  if (!allows(env, origin)) throw new ApiError(403, "forbidden", "this origin may not call the API; see CORS_ORIGINS");
  return new Response(null, {
    status: 204,
    headers: {
      "access-control-allow-origin": origin,
      "access-control-allow-methods": "GET, POST, DELETE",
      "access-control-allow-headers": "authorization, content-type",
      "access-control-max-age": "600",
      vary: "Origin",
    },
  });
}

/**
 * May a browser page on `origin` open a live WebSocket? An origin of CORS_ORIGINS, or the
 * worker's own (the console it serves). A WebSocket is not subject to CORS, so this is the check.
 */
export function originMayConnect(env: Env, origin: string, ownOrigin: string): boolean {
  return origin === ownOrigin || allows(env, origin);
}

export function corsHeaders(response: Response, request: IRequest, env: Env): Response {
  const origin = request.headers.get("origin");
  // A 101 carries its WebSocket: rebuilding the response would lose it, and CORS does not apply.
  if (request.method === "OPTIONS" || response.status === 101 || !allows(env, origin)) return response;
  const headed = new Response(response.body, response);
  headed.headers.set("access-control-allow-origin", origin);
  headed.headers.set("access-control-expose-headers", "retry-after");
  headed.headers.append("vary", "Origin");
  return headed;
}
