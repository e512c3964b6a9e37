// dlq tokens create · list · revoke (the admin token only)

import { UsageError } from "../errors.mjs";
import { printJson, stringOption } from "../context.mjs";
import { table } from "../format.mjs";

/** @typedef {import("../context.mjs").Context} Context */
/** @import { CreatedToken, TokenList, TokenView } from "../../contract/schemas" */

const USAGE = "dlq tokens create --tenant <tenant> --label <who> [--scope read|operate] | dlq tokens list [--tenant <tenant>] [--revoked] | dlq tokens revoke <tokenId>";

/** @param {Context} ctx */
export async function tokens(ctx) {
  const [sub, ...args] = ctx.positionals;
  if (sub === "create") {
    const label = stringOption(ctx, "label");
    if (args.length || !ctx.tenant || !label) throw new UsageError(`tokens create needs --tenant and --label: ${USAGE}`, "tokens");
    const scope = stringOption(ctx, "scope");
    if (scope !== undefined && scope !== "read" && scope !== "operate") throw new UsageError(`--scope must be read or operate, not ${JSON.stringify(scope)}`, "tokens");
    /** @type {CreatedToken} */
    const created = await ctx.client.request("POST", "/api/admin/tokens", { body: { tenant: ctx.tenant, label, ...(scope ? { scope } : {}) } });
    if (ctx.json) return printJson(ctx, created);
    ctx.out.write(`${created.token}\n`);
    ctx.err.write(
      `Created ${created.id} for tenant ${created.tenant} (${created.label}, scope ${created.scope}). The token is above; store it now: it is not shown again.\n` +
        `Use it with: DLQ_TOKEN=<token> dlq stats\n`,
    );
    return;
  }
  if (sub === "list") {
    if (args.length) throw new UsageError(`tokens list takes no arguments: ${USAGE}`, "tokens");
    /** @type {TokenList} */
    const res = await ctx.client.request("GET", "/api/admin/tokens", { query: { tenant: ctx.tenant, revoked: ctx.values.revoked === true ? "true" : undefined } });
    if (ctx.json) return printJson(ctx, res);
    if (!res.items.length) {
      ctx.out.write("No tokens.\n");
      return;
    }
    ctx.out.write(
      table(
        ["ID", "TENANT", "LABEL", "SCOPE", "CREATED", "BY", "REVOKED"],
        res.items.map((t) => [t.id, t.tenant, t.label, t.scope, t.createdAt, t.createdBy, t.revokedAt ?? "-"]),
      ),
    );
    return;
  }
  if (sub === "revoke") {
    if (args.length !== 1) throw new UsageError(`tokens revoke takes one token id: ${USAGE}`, "tokens");
    /** @type {TokenView} */
    const revoked = await ctx.client.request("DELETE", `/api/admin/tokens/${encodeURIComponent(/** @type {string} */ (args[0]))}`);
    if (ctx.json) return printJson(ctx, revoked);
    ctx.out.write(`Revoked ${revoked.id} (${revoked.label}, tenant ${revoked.tenant}); it no longer works.\n`);
    return;
  }
  throw new UsageError(sub === undefined ? `tokens needs a subcommand: ${USAGE}` : `unknown tokens subcommand ${JSON.stringify(sub)}: ${USAGE}`, "tokens");
}
