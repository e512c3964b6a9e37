import type { IRequest } from "itty-router";
import { z } from "zod";
import { TenantParam, ledgerFor, tenantOf } from "../tenant";
import { parseQuery } from "../validate";

export const StatsQuery = z.object({ tenant: TenantParam }).strict();

export async function getStats(request: IRequest, env: Env) {
  const tenant = tenantOf(request, parseQuery(request, StatsQuery));
  return ledgerFor(env, tenant).stats();
}
