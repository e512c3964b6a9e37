// The operator console's deep links. Its files are static assets served before the worker runs
// (with the headers of build/assets/_headers); a link such as /console/tenants/acme/failures
// matches no file, reaches the worker, and gets the console's page with the same headers.

import securityHeaders from "../../console/security-headers.json";
import { errorResponse } from "../contract/errors";

export const CONSOLE_HEADERS: Readonly<Record<string, string>> = securityHeaders;

export function isConsolePath(pathname: string): boolean {
  return pathname === "/console" || pathname.startsWith("/console/");
}

export async function serveConsole(request: Request, env: Env): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return errorResponse(405, "method_not_allowed", `${request.method} is not allowed here; use GET`, undefined, { allow: "GET, HEAD" });
  }
  const { pathname } = new URL(request.url);
  // A missing file is a 404, not the page: a stale script URL must not be answered with HTML.
  if (/\.[a-z0-9]+$/i.test(pathname)) return errorResponse(404, "not_found", `no console file ${pathname}`);
  const page = await env.ASSETS.fetch(new URL("/console/", request.url), { method: request.method });
  if (!page.ok) return errorResponse(503, "console_unavailable", "the console's files are missing from this deployment: run `node console/build.mjs` and deploy again");
  const headers = new Headers(page.headers);
  for (const [name, value] of Object.entries(CONSOLE_HEADERS)) headers.set(name, value);
  headers.set("cache-control", "no-cache");
  return new Response(request.method === "HEAD" ? null : page.body, { status: 200, headers });
}
