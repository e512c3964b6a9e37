// Which tenant a request acts on. Today it is the `tenant` query parameter; this is the one
// place that a credential will decide it instead.

import type { IRequest } from "itty-router";
import { z } from "zod";
import { TenantId } from "../capture/envelope";
import { QUARANTINE_TENANT } from "../model";

export const TenantParam = z.union([TenantId, z.literal(QUARANTINE_TENANT)]);

export function ledgerFor(env: Env, tenant: string) {
  return env.FAILURE_LEDGER.getByName(tenant);
}

export function tenantOf(_request: IRequest, query: { tenant: string }): string {
  return query.tenant;
}

/** Who is acting, for the audit trail. Until requests carry credentials, the caller may name itself. */
export function actorOf(request: IRequest): string {
  const named = request.headers.get("x-dlq-actor");
  return named && /^[\w.@:-]{1,64}$/.test(named) ? named : "api";
}
