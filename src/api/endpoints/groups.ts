import type { IRequest } from "itty-router";
import { z } from "zod";
import { TenantParam, ledgerFor, tenantOf } from "../tenant";
import { parseQuery } from "../validate";

export const GroupsQuery = z
  .object({
    tenant: TenantParam,
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export async function listGroups(request: IRequest, env: Env) {
  const query = parseQuery(request, GroupsQuery);
  const tenant = tenantOf(request, query);
  return { items: await ledgerFor(env, tenant).listGroups(query.limit) };
}
