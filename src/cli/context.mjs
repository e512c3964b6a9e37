// What every command gets: the API client, where to write, and the parsed command line.

import { UsageError } from "./errors.mjs";

/**
 * @typedef {import("./client.mjs").Client} Client
 * @typedef {import("./format.mjs").Out} Out
 * @typedef {{
 *   command: string,
 *   client: Client,
 *   out: Out,
 *   err: Out,
 *   json: boolean,
 *   tenant: string | undefined,
 *   progress: boolean,
 *   now: () => number,
 *   sleep: (ms: number) => Promise<void>,
 *   values: Record<string, string | boolean | string[] | undefined>,
 *   positionals: string[],
 * }} Context
 */

export const FILTER_KEYS = ["class", "queue", "status", "group", "from", "to"];
/** @type {import("../model").FailureClass[]} */
export const CLASSES = ["RECOVERABLE", "USER_ERROR", "SYSTEM_ERROR", "UNKNOWN"];
export const STATUSES = ["open", "retrying", "exhausted", "recovered", "presumed_recovered", "abandoned"];

/** The tenant query of a tenant-scoped call. @param {Context} ctx */
export const tenantQuery = (ctx) => (ctx.tenant === undefined ? {} : { tenant: ctx.tenant });

/** @param {Context} ctx @param {string} name @returns {string | undefined} */
export function stringOption(ctx, name) {
  const v = ctx.values[name];
  return typeof v === "string" ? v : undefined;
}

/**
 * An integer option within bounds, or undefined when absent.
 * @param {Context} ctx @param {string} name @param {number} min @param {number} max
 */
export function intOption(ctx, name, min, max) {
  const raw = stringOption(ctx, name);
  if (raw === undefined) return undefined;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`, ctx.command);
  }
  return Number(raw);
}

/**
 * The filter from --filter k=v[,k=v] (repeatable) and the --class/--queue/... shorthands.
 * @param {Context} ctx
 * @returns {Record<string, string>}
 */
export function readFilter(ctx) {
  /** @type {Record<string, string>} */
  const filter = {};
  const raw = ctx.values.filter;
  const items = (Array.isArray(raw) ? raw : typeof raw === "string" ? [raw] : []).flatMap((f) => f.split(","));
  for (const item of items) {
    const eq = item.indexOf("=");
    const key = eq > 0 ? item.slice(0, eq).trim() : "";
    const value = eq > 0 ? item.slice(eq + 1).trim() : "";
    if (!FILTER_KEYS.includes(key) || value === "") {
      throw new UsageError(`--filter takes key=value with key one of ${FILTER_KEYS.join(", ")}; got ${JSON.stringify(item)}`, ctx.command);
    }
    filter[key] = value;
  }
  for (const key of FILTER_KEYS) {
    const value = stringOption(ctx, key);
    if (value !== undefined) filter[key] = value;
  }
  if (filter.class !== undefined && !(/** @type {string[]} */ (CLASSES).includes(filter.class))) {
    throw new UsageError(`class must be one of ${CLASSES.join(", ")}, not ${JSON.stringify(filter.class)}`, ctx.command);
  }
  if (filter.status !== undefined && !STATUSES.includes(filter.status)) {
    throw new UsageError(`status must be one of ${STATUSES.join(", ")}, not ${JSON.stringify(filter.status)}`, ctx.command);
  }
  return filter;
}

/** @param {Context} ctx @param {unknown} value */
export function printJson(ctx, value) {
  ctx.out.write(`${JSON.stringify(value, null, 2)}\n`);
}
