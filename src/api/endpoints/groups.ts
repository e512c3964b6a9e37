import { z } from "zod";
import { unlessRefused } from "../refusals";
import { defineRoute } from "../route";
import { GroupDetail, GroupHistory, GroupSummary, Groups } from "../../contract/schemas";
import { actorOf, TenantParam } from "../tenant";
import { Fingerprint } from "../validate";
import { notFound } from "../errors";
import { TenantQuery } from "./failures";

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

const GroupParams = z.object({ fingerprint: Fingerprint.meta({ description: "The group's fingerprint" }) }).strict();
const noSuchGroup = ({ fingerprint }: { fingerprint: string }) => `no group ${fingerprint} in this tenant`;

const ResolveRequest = z
  .object({ note: z.string().max(4096).optional().meta({ description: "Why it is resolved (at most 4 KB), kept in the group's history" }) })
  .strict()
  .default({});

export const resolveGroup = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/groups/:fingerprint/resolve",
  tag: "failures",
  summary: "Resolve a group: a failure after this reopens it as regressed, with one alert",
  description:
    "Resolves the group's open alerts. Changes no failure: retries go on and the manual queue stays. Resolving a resolved group answers it unchanged.",
  access: "tenant:operate",
  query: TenantQuery,
  params: GroupParams,
  body: { schema: ResolveRequest, optional: true },
  notFound: noSuchGroup,
  responses: { 200: { description: "The group as it now is", schema: GroupSummary } },
  async handler({ request, params, body, tenant }) {
    const note = body.note === undefined ? {} : { note: body.note };
    return unlessRefused(await tenant().ledger.triageGroup(params.fingerprint, { action: "resolve", ...note }, actorOf(request)));
  },
});

export const acknowledgeGroup = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/groups/:fingerprint/acknowledge",
  tag: "failures",
  summary: "Acknowledge a regressed or escalating group: it stays open, as ongoing",
  access: "tenant:operate",
  query: TenantQuery,
  params: GroupParams,
  notFound: noSuchGroup,
  responses: { 200: { description: "The group as it now is", schema: GroupSummary } },
  async handler({ request, params, tenant }) {
    return unlessRefused(await tenant().ledger.triageGroup(params.fingerprint, { action: "acknowledge" }, actorOf(request)));
  },
});

export const reopenGroup = defineRoute({
  method: "POST",
  path: "/api/queue/dlq/groups/:fingerprint/reopen",
  tag: "failures",
  summary: "Reopen a resolved group",
  access: "tenant:operate",
  query: TenantQuery,
  params: GroupParams,
  notFound: noSuchGroup,
  responses: { 200: { description: "The group as it now is", schema: GroupSummary } },
  async handler({ request, params, tenant }) {
    return unlessRefused(await tenant().ledger.triageGroup(params.fingerprint, { action: "reopen" }, actorOf(request)));
  },
});

const HistoryQuery = z
  .object({
    tenant: TenantParam.optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    before: z.coerce.number().int().min(1).optional().meta({ description: "Entries older than this seq (the last entry's seq of the page before)" }),
  })
  .strict();

export const groupHistory = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/groups/:fingerprint/history",
  tag: "failures",
  summary: "A group's history of state changes, newest first",
  access: "tenant:read",
  query: HistoryQuery,
  params: GroupParams,
  responses: { 200: { description: "Its history", schema: GroupHistory } },
  async handler({ params, query, tenant }) {
    const items = await tenant().ledger.groupHistory(params.fingerprint, query.limit, query.before);
    return { items: items.map((e) => ({ ...e, at: iso(e.at) })) };
  },
});

const iso = (ms: number) => new Date(ms).toISOString();

export const getGroup = defineRoute({
  method: "GET",
  path: "/api/queue/dlq/groups/:fingerprint",
  tag: "failures",
  summary: "One group: its counts, sparkline and state, its newest history entries and a sample of its failures",
  access: "tenant:read",
  query: TenantQuery,
  params: GroupParams,
  notFound: noSuchGroup,
  responses: { 200: { description: "The group", schema: GroupDetail } },
  async handler({ params, tenant }) {
    const found = await tenant().ledger.getGroup(params.fingerprint);
    if (!found) throw notFound(noSuchGroup(params));
    return { ...found.group, history: found.history.map((e) => ({ ...e, at: iso(e.at) })), sample: found.sample };
  },
});
