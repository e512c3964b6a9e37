// Which tenant a request acts on, and who is acting: the one place the credential decides both.

import { z } from "zod";
import { TenantId } from "../envelope";
import { QUARANTINE_TENANT } from "../model";
import { ApiError, notFound } from "./errors";
import type { ApiRequest, TenantLedger } from "./route";

export const TenantParam = z.union([TenantId, z.literal(QUARANTINE_TENANT)]).meta({
  description: "The tenant to act on. A tenant token acts on its own tenant and may omit it; the admin token must name one.",
});

export function ledgerFor(env: Env, tenant: string) {
  return env.FAILURE_LEDGER.getByName(tenant);
}

/** The answer a tenant token gets for any other tenant: the route's own "not found". */
function notVisible(request: ApiRequest): ApiError {
  const served = request.served;
  return notFound(served?.route.notFound ? served.route.notFound(served.params) : "not found");
}

/**
 * A tenant token acts on its own tenant: naming another gets the same 404 as a missing
 * resource, never a hint that the tenant or the resource exists. The admin token names one.
 */
function tenantOf(request: ApiRequest, query: { tenant?: string | undefined }): string {
  const auth = request.auth;
  if (!auth) throw new Error("tenantOf called on a route that takes no token");
  if (auth.kind === "tenant") {
    if (query.tenant !== undefined && query.tenant !== auth.tenant) throw notVisible(request);
    return auth.tenant;
  }
  if (query.tenant === undefined) {
    throw new ApiError(400, "invalid_request", "tenant: the admin token acts on any tenant, so name one with ?tenant=", [
      { path: "tenant", message: "required with the admin token" },
    ]);
  }
  return query.tenant;
}

/** What a tenant route's `tenant()` answers: the tenant the request acts on, and its ledger. */
export function tenantLedger(request: ApiRequest, env: Env, query: { tenant?: string | undefined }): TenantLedger {
  const id = tenantOf(request, query);
  return { id, ledger: ledgerFor(env, id) };
}

/** Who is acting, for the audit trail: the token's label ("admin" for the admin token). */
export function actorOf(request: ApiRequest): string {
  return request.auth?.label ?? "anonymous";
}
