// dlq export: every page of failures, streamed as NDJSON or CSV as the pages arrive.

import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { UsageError } from "../errors.mjs";
import { CSV_COLUMNS, csvRow, progress } from "../format.mjs";
import { intOption, readFilter, stringOption, tenantQuery } from "../context.mjs";

/** @typedef {import("../context.mjs").Context} Context */
/** @import { FailurePage } from "../../contract/schemas" */

/** Failures per request: the API's largest page. */
const PAGE = 500;

/** @param {Context} ctx */
export async function exportFailures(ctx) {
  if (ctx.positionals.length) throw new UsageError(`export takes no arguments, got ${ctx.positionals.join(" ")}`, "export");
  const format = stringOption(ctx, "format") ?? (ctx.json ? "ndjson" : undefined);
  if (format !== "ndjson" && format !== "csv") throw new UsageError("export needs --format ndjson or --format csv", "export");
  if (ctx.json && format !== "ndjson") throw new UsageError("--json exports NDJSON; leave out --format csv", "export");
  const pageSize = intOption(ctx, "page-size", 1, PAGE) ?? PAGE;
  const filter = readFilter(ctx);
  const { from, to, ...serverFilter } = filter;
  const fromMs = from === undefined ? undefined : parseTime(from, "from");
  const toMs = to === undefined ? undefined : parseTime(to, "to");

  const path = stringOption(ctx, "output");
  const file = path === undefined ? null : createWriteStream(path);
  if (file) await Promise.race([once(file, "open"), once(file, "error").then(([e]) => Promise.reject(e))]);
  /** @param {string} text */
  const write = async (text) => {
    if (file) {
      if (!file.write(text)) await once(file, "drain");
    } else ctx.out.write(text);
  };
  // Data on the terminal and a bar on the terminal would garble each other.
  const bar = progress(ctx.err, { enabled: ctx.progress && (file !== null || !ctx.out.isTTY), label: "Exporting", now: ctx.now });

  let exported = 0;
  try {
    if (format === "csv") await write(`${CSV_COLUMNS.join(",")}\r\n`);
    /** @type {string | undefined} */
    let cursor;
    do {
      /** @type {FailurePage} */
      const page = await ctx.client.request("GET", "/api/queue/dlq/failures", { query: { ...tenantQuery(ctx), ...serverFilter, limit: pageSize, cursor } });
      const items = page.items.filter((f) => {
        const at = Date.parse(f.lastFailedAt);
        return (fromMs === undefined || at >= fromMs) && (toMs === undefined || at <= toMs);
      });
      if (items.length) await write(items.map((f) => (format === "csv" ? csvRow(f) : `${JSON.stringify(f)}\n`)).join(""));
      exported += items.length;
      bar.update(exported, null);
      cursor = page.nextCursor ?? undefined;
      // Newest first: once a page is older than --from, so is everything after it.
      const oldest = page.items.at(-1);
      if (fromMs !== undefined && oldest && Date.parse(oldest.lastFailedAt) < fromMs) cursor = undefined;
    } while (cursor);
  } finally {
    bar.done();
    if (file) await new Promise((resolve) => file.end(resolve));
  }
  ctx.err.write(`Exported ${exported} failure${exported === 1 ? "" : "s"}${path ? ` to ${path}` : ""}.\n`);
}

/** @param {string} text @param {string} name */
function parseTime(text, name) {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new UsageError(`--${name} must be a date-time such as 2026-01-31T00:00:00Z, not ${JSON.stringify(text)}`, "export");
  return ms;
}
