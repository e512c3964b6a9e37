import { z } from "zod";
import { defineRoute } from "../route";
import { Groups } from "../../contract/schemas";
import { TenantParam } from "../tenant";

export const GroupsQuery = z
  .object({
    tenant: TenantParam.optional(),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();

export const listGroups = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/groups",
  tag: "failures",
  summary: "Failure groups (same error, same job type), most recently seen first",
  access: "tenant:read",
  query: GroupsQuery,
  responses: { 200: { description: "The groups", schema: Groups } },
  async handler({ query, tenant }) {
    return { items: await tenant().ledger.listGroups(query.limit) };
  },
});
