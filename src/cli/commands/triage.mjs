// dlq groups resolve|ack|reopen|history <fingerprint>: triage of one failure group.

import { UsageError } from "../errors.mjs";
import { intOption, printJson, stringOption, tenantQuery } from "../context.mjs";
import { table } from "../format.mjs";

/** @typedef {import("../context.mjs").Context} Context */
/** @import { GroupHistory, GroupSummary } from "../../contract/schemas" */

/** The verbs, and the route each takes. */
const ACTIONS = { resolve: "resolve", ack: "acknowledge", acknowledge: "acknowledge", reopen: "reopen" };
export const TRIAGE_VERBS = [...Object.keys(ACTIONS), "history"];

/** A group's state as one word: `open/new`, `open/regressed`, `resolved`. @param {GroupSummary} g */
export const stateOf = (g) => (g.substate ? `${g.state}/${g.substate}` : g.state);

/** @param {Context} ctx */
export async function triage(ctx) {
  const [verb, fingerprint, ...rest] = ctx.positionals;
  if (!verb || !TRIAGE_VERBS.includes(verb)) throw new UsageError(`unknown groups command ${verb}`, "groups");
  if (!fingerprint || rest.length) throw new UsageError(`give one group: dlq groups ${verb} <fingerprint>`, "groups");
  const path = `/api/queue/dlq/groups/${encodeURIComponent(fingerprint)}`;
  const note = stringOption(ctx, "note");
  if (note !== undefined && verb !== "resolve") throw new UsageError("--note goes with resolve", "groups");
  if (verb === "history") {
    /** @type {GroupHistory} */
    const h = await ctx.client.request("GET", `${path}/history`, { query: { ...tenantQuery(ctx), limit: intOption(ctx, "limit", 1, 200) } });
    if (ctx.json) return printJson(ctx, h);
    if (h.items.length === 0) {
      ctx.out.write(`Group ${fingerprint} has no history yet.\n`);
      return;
    }
    ctx.out.write(table(["WHEN", "WHO", "WHAT", "DETAIL"], h.items.map((e) => [e.at, e.actor, e.action, e.detail ? JSON.stringify(e.detail) : ""])));
    return;
  }
  const action = ACTIONS[/** @type {keyof typeof ACTIONS} */ (verb)];
  /** @type {GroupSummary} */
  const g = await ctx.client.request("POST", `${path}/${action}`, { query: tenantQuery(ctx), ...(note === undefined ? {} : { body: { note } }) });
  if (ctx.json) return printJson(ctx, g);
  ctx.out.write(`Group ${g.fingerprint} is ${stateOf(g)}${g.stateChangedBy ? ` (by ${g.stateChangedBy}, ${g.stateChangedAt})` : ""}.\n`);
}
