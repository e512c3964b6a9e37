// Tenant tokens, managed by the admin: created (the token shown once), listed, revoked.

import { z } from "zod";
import { TenantId } from "../../envelope";
import { SCOPES, newToken, sha256, toHex, type Scope } from "../auth";
import { notFound } from "../errors";
import { defineRoute, reply } from "../route";
import { CreatedToken, TokenList, TokenView } from "../../contract/schemas";
import { actorOf, ledgerFor } from "../tenant";
import { prepare, sql } from "../../sql";

export const TokenLabel = z
  .string()
  .regex(/^[\w.@:-]{1,64}$/, "label must be 1-64 letters, digits, '_', '.', '@', ':' or '-'")
  .refine((l) => l !== "admin", "label 'admin' is reserved for the admin token")
  .meta({ description: "Who holds the token (a person, a service); recorded as the actor of what it does" });

export const TokenScope = z
  .enum(SCOPES as ["read", "operate"])
  .meta({ description: "read: view only · operate: also requeue, abandon, bulk operations and edit-and-requeue" });

export const CreateTokenRequest = z
  .object({ tenant: TenantId, label: TokenLabel, scope: TokenScope.default("operate").meta({ description: "What the token may do (default operate)" }) })
  .strict();

export const TokensQuery = z
  .object({
    tenant: TenantId.optional().meta({ description: "Only this tenant's tokens" }),
    revoked: z.enum(["true", "false"]).default("false").transform((v) => v === "true").meta({ description: "Include revoked tokens" }),
  })
  .strict();

export const TokenParams = z.object({ id: z.string().regex(/^tok_[0-9a-f]{16}$/, "not a token id") }).strict();

type TokenRow = {
  id: string;
  tenant_id: string;
  label: string;
  scope: Scope;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
};

const view = (row: TokenRow): z.input<typeof TokenView> => ({
  id: row.id,
  tenant: row.tenant_id,
  label: row.label,
  scope: row.scope,
  createdAt: new Date(row.created_at).toISOString(),
  createdBy: row.created_by,
  revokedAt: row.revoked_at === null ? null : new Date(row.revoked_at).toISOString(),
});

export const createToken = defineRoute({
  method: "POST",
  path: "/api/admin/tokens",
  tag: "admin",
  summary: "Create a token bound to one tenant, with a scope",
  description: "The answer carries the token itself, this once: only its SHA-256 is stored.",
  access: "admin",
  body: { schema: CreateTokenRequest, maxBytes: 4096 },
  responses: { 201: { description: "The new token", schema: CreatedToken } },
  async handler({ request, env, body }) {
    const token = newToken();
    const row: TokenRow = {
      id: `tok_${toHex(crypto.getRandomValues(new Uint8Array(8)))}`,
      tenant_id: body.tenant,
      label: body.label,
      scope: body.scope,
      created_at: Date.now(),
      created_by: actorOf(request),
      revoked_at: null,
    };
    const values = sql.list([row.id, row.tenant_id, row.label, row.scope, toHex(await sha256(token)), row.created_at, row.created_by]);
    await prepare(env.DB, sql`INSERT INTO api_tokens (id, tenant_id, label, scope, token_hash, created_at, created_by) VALUES ${values}`).run();
    return reply(201, { ...view(row), token });
  },
});

export const listTokens = defineRoute({
  method: "GET",
  path: "/api/admin/tokens",
  tag: "admin",
  summary: "List tenant tokens (never the tokens themselves)",
  access: "admin",
  query: TokensQuery,
  responses: { 200: { description: "Tokens, newest first", schema: TokenList } },
  async handler({ env, query }) {
    const where = [...(query.tenant === undefined ? [] : [sql`tenant_id = ${query.tenant}`]), ...(query.revoked ? [] : [sql`revoked_at IS NULL`])];
    const { results } = await prepare(
      env.DB,
      sql`SELECT id, tenant_id, label, scope, created_at, created_by, revoked_at FROM api_tokens
          ${where.length ? sql`WHERE ${sql.join(where, " AND ")}` : sql``} ORDER BY created_at DESC, id LIMIT 1000`,
    ).all<TokenRow>();
    return { items: results.map(view) };
  },
});

const noSuchToken = ({ id }: { id: string }) => `no token ${id}`;

export const revokeToken = defineRoute({
  method: "DELETE",
  path: "/api/admin/tokens/:id",
  tag: "admin",
  summary: "Revoke a tenant token; it stops working at once",
  description:
    "The live sockets it opened are closed (code 4401) and its unused live tickets voided. Revoking a revoked token changes nothing and answers the same.",
  access: "admin",
  params: TokenParams,
  notFound: noSuchToken,
  responses: { 200: { description: "The revoked token", schema: TokenView } },
  async handler({ env, params }) {
    const row = await prepare(
      env.DB,
      sql`UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ${Date.now()}) WHERE id = ${params.id}
          RETURNING id, tenant_id, label, scope, created_at, created_by, revoked_at`,
    ).first<TokenRow>();
    if (!row) throw notFound(noSuchToken(params));
    // After the token stopped authenticating, so no new socket can open behind this. If it
    // throws, the revoke answers 500 and repeating it closes them.
    await ledgerFor(env, row.tenant_id).closeLive(row.id);
    return view(row);
  },
});
