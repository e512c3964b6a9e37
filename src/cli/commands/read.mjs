// dlq stats · dlq list · dlq show · dlq groups (and its triage: triage.mjs)

import { UsageError } from "../errors.mjs";
import { CLASSES, intOption, printJson, readFilter, stringOption, tenantQuery } from "../context.mjs";
import { ago, counts, table } from "../format.mjs";
import { stateOf, triage } from "./triage.mjs";

/** @typedef {import("../context.mjs").Context} Context */
/** @import { CrossTenantStats, FailurePage, FailureSeries, FailureView, Groups, History, LedgerStats } from "../../contract/schemas" */

/** @param {Context} ctx */
export async function stats(ctx) {
  const limit = intOption(ctx, "limit", 1, 1000);
  /** @type {LedgerStats | CrossTenantStats} */
  const s = await ctx.client.request("GET", "/api/queue/dlq/stats", { query: { ...tenantQuery(ctx), limit } });
  if (ctx.json) return printJson(ctx, s);
  const w = (/** @type {string} */ line) => ctx.out.write(`${line}\n`);
  if ("scope" in s) {
    w(`All tenants (from D1, a few seconds behind): ${s.total} failures in ${s.tenantCount} tenants`);
    w(`  by class   ${counts(s.byClass)}`);
    w(`  by status  ${counts(s.byStatus)}`);
    if (s.tenants.length) {
      w("");
      ctx.out.write(
        table(
          ["TENANT", "TOTAL", ...CLASSES, "OPEN", "EXHAUSTED"],
          s.tenants.map((t) => [t.tenant, t.total, ...CLASSES.map((c) => t.byClass[c]), t.byStatus.open, t.byStatus.exhausted]),
        ),
      );
      if (s.tenantCount > s.tenants.length) w(`(${s.tenantCount - s.tenants.length} more tenants: --limit ${Math.min(1000, s.tenantCount)})`);
    }
    return;
  }
  const r = s.recovery;
  w(`Tenant ${s.tenant}: ${s.total} failures (${s.last24h} in the last 24 h), ${s.recoveryQueueSize} waiting for a person`);
  w(`  by class   ${counts(s.byClass)}`);
  w(`  by status  ${counts(s.byStatus)}`);
  w(`  by queue   ${counts(s.byQueue)}`);
  w(`  groups     ${s.groups}`);
  w(`  recovery   ${r.scheduledRetries} scheduled · ${r.retriesSent} retries sent · ${r.recovered} recovered · ${r.presumedRecovered} presumed recovered · ${r.manualRequeues} requeued by hand · ${r.abandoned} abandoned`);
  if (s.notifications) w(`  notices    ${s.notifications.sent} sent · ${s.notifications.suppressed} suppressed`);
  const o = s.outbox;
  w(`  outbox     ${o.pendingRows} pending · last flush ${ago(o.lastFlushAt, ctx.now())}${o.lastFlushError ? ` · last error: ${o.lastFlushError.message}` : ""}`);
  const open = Object.entries(s.circuits ?? {}).filter(([, c]) => c.state !== "closed");
  for (const [queue, c] of open) w(`  circuit    ${queue}: ${c.state} since ${c.openedAt}`);
}

/** @param {Context} ctx */
export async function list(ctx) {
  const filter = readFilter(ctx);
  if (filter.from !== undefined || filter.to !== undefined) throw new UsageError("list filters by class, queue, status and group (from/to are for requeue, abandon and export)", "list");
  const limit = intOption(ctx, "limit", 1, 500) ?? 20;
  const search = searchOptions(ctx);
  /** @type {FailurePage} */
  const page = await ctx.client.request("GET", "/api/queue/dlq/failures", {
    query: { ...tenantQuery(ctx), ...filter, ...search, limit, cursor: stringOption(ctx, "cursor") },
  });
  if (ctx.json) return printJson(ctx, page);
  if (page.items.length === 0) {
    const more = page.nextCursor ? ` in the failures looked at so far; more: ${nextPage(ctx, filter, search, limit, page.nextCursor)}` : "";
    ctx.out.write(Object.keys(filter).length || Object.keys(search).length ? `No failures match${more}.\n` : "No failures.\n");
    return;
  }
  const now = ctx.now();
  ctx.out.write(
    table(
      ["JOB ID", "QUEUE", "CLASS", "STATUS", "TRIES", "LAST FAILED", "REASON"],
      page.items.map((f) => [f.jobId, f.queue, f.class, f.status, f.attempts, ago(f.lastFailedAt, now), f.error?.message ? `${f.reason}: ${f.error.message}` : f.reason]),
      ctx.out.isTTY ? ctx.out.columns : undefined,
    ),
  );
  if (page.nextCursor) ctx.err.write(`More: ${nextPage(ctx, filter, search, limit, page.nextCursor)}\n`);
}

/** --q, and --field with --value. @param {Context} ctx @returns {Record<string, string>} */
function searchOptions(ctx) {
  const q = stringOption(ctx, "q");
  const field = stringOption(ctx, "field");
  const value = stringOption(ctx, "value");
  if ((field === undefined) !== (value === undefined)) throw new UsageError("--field and --value go together, e.g. --field userId --value u-42", ctx.command);
  return { ...(q === undefined ? {} : { q }), ...(field === undefined ? {} : { field, value: /** @type {string} */ (value) }) };
}

/** The command for the next page. @param {Context} ctx @param {Record<string, string>} filter @param {Record<string, string>} search @param {number} limit @param {string} cursor */
function nextPage(ctx, filter, search, limit, cursor) {
  const quote = (/** @type {string} */ v) => (/^[\w.@:,+\/=-]+$/.test(v) ? v : `'${v.replaceAll("'", `'\\''`)}'`);
  return [
    "dlq list",
    ...(ctx.tenant ? [`--tenant ${ctx.tenant}`] : []),
    ...Object.entries({ ...filter, ...search }).map(([k, v]) => `--${k} ${quote(v)}`),
    `--limit ${limit}`,
    `--cursor ${cursor}`,
  ].join(" ");
}

/** @param {Context} ctx */
export async function show(ctx) {
  const jobId = ctx.positionals[0];
  if (!jobId || ctx.positionals.length > 1) throw new UsageError("show takes one job id: dlq show <jobId>", "show");
  const path = `/api/queue/dlq/failures/${encodeURIComponent(jobId)}`;
  const [failure, history] = await Promise.all([
    /** @type {Promise<FailureView>} */ (ctx.client.request("GET", path, { query: tenantQuery(ctx) })),
    /** @type {Promise<History>} */ (ctx.client.request("GET", `${path}/history`, { query: tenantQuery(ctx) })),
  ]);
  if (ctx.json) return printJson(ctx, { ...failure, history: history.items });
  const w = (/** @type {string} */ line) => ctx.out.write(`${line}\n`);
  const now = ctx.now();
  w(`Job ${failure.jobId} (tenant ${failure.tenantId})`);
  w(`  status     ${failure.status}${failure.recovery?.note ? ` (${failure.recovery.note})` : ""}`);
  w(`  class      ${failure.class}: ${failure.reason}`);
  w(`  queue      ${failure.queue}`);
  if (failure.userId) w(`  user       ${failure.userId}`);
  w(`  attempts   ${failure.attempts} (failed ${failure.occurrences} time${failure.occurrences === 1 ? "" : "s"})`);
  w(`  first      ${failure.firstFailedAt} (${ago(failure.firstFailedAt, now)})`);
  w(`  last       ${failure.lastFailedAt} (${ago(failure.lastFailedAt, now)})`);
  w(`  group      ${failure.group}`);
  if (failure.recovery) w(`  recovery   ${failure.recovery.attempts} automatic retries${failure.recovery.poison ? " · poison: fails again on every retry" : ""}`);
  w(`  source     ${failure.source}${failure.archive ? ` · archived in ${failure.archive.key}` : ""}`);
  if (failure.error) {
    w(`  error      ${failure.error.name}: ${failure.error.message}${failure.error.status ? ` (status ${failure.error.status})` : ""}`);
    if (failure.error.stack) w(`${failure.error.stack.replace(/^/gm, "             ")}`);
  } else w("  error      none recorded (the platform dead-lettered it without one)");
  w(`  body (${failure.bodyEncoding ?? "unknown"})`);
  const body = failure.bodyEncoding === "json" ? JSON.stringify(failure.body, null, 2) : String(failure.body);
  w(body.replace(/^/gm, "    "));
  if (history.items.length) {
    w("  history");
    for (const h of history.items) {
      w(`    ${h.at}  ${h.action} by ${h.actor}${h.operationId ? ` (operation ${h.operationId})` : ""}${h.detail ? ` ${JSON.stringify(h.detail)}` : ""}`);
    }
  }
}

/** @param {Context} ctx */
export async function groups(ctx) {
  if (ctx.positionals.length > 0) return triage(ctx);
  const limit = intOption(ctx, "limit", 1, 500);
  /** @type {Groups} */
  const res = await ctx.client.request("GET", "/api/queue/dlq/groups", { query: { ...tenantQuery(ctx), limit } });
  if (ctx.json) return printJson(ctx, res);
  if (res.items.length === 0) {
    ctx.out.write("No failure groups.\n");
    return;
  }
  const now = ctx.now();
  ctx.out.write(
    table(
      ["GROUP", "COUNT", "CLASS", "QUEUE", "STATE", "LAST SEEN", "LAST 24 H", "ERROR"],
      res.items.map((g) => [g.fingerprint, g.count, g.class, g.queue, stateOf(g), ago(g.lastSeen, now), sparkline(g.sparkline), `${g.errorName}: ${g.messageSample}`]),
      ctx.out.isTTY ? ctx.out.columns : undefined,
    ),
  );
  ctx.err.write("List a group's failures with: dlq list --group <GROUP>; triage it with: dlq groups resolve|ack|reopen <GROUP>\n");
}

const BARS = " ▁▂▃▄▅▆▇█";

/** Counts as a line of bars, scaled to the largest. @param {number[]} counts */
export function sparkline(counts) {
  const top = Math.max(...counts);
  return counts.map((n) => (n === 0 ? "·" : BARS[Math.max(1, Math.round((n / top) * (BARS.length - 1)))])).join("");
}

/** @param {Context} ctx */
export async function series(ctx) {
  const group = stringOption(ctx, "group");
  /** @type {FailureSeries} */
  const s = await ctx.client.request("GET", "/api/queue/dlq/series", { query: { ...tenantQuery(ctx), group } });
  if (ctx.json) return printJson(ctx, s);
  const total = (/** @type {number[]} */ c) => c.reduce((a, b) => a + b, 0);
  ctx.out.write(`Failures over time, tenant ${s.tenant}${s.group ? `, group ${s.group}` : ""} (oldest left):\n`);
  for (const [label, r] of /** @type {const} */ ([["last hour, per minute", s.minutes], ["last 24 h, per hour", s.hours], ["last 14 days, per day", s.days]])) {
    ctx.out.write(`  ${label.padEnd(23)}${sparkline(r.counts)}  ${total(r.counts)} (max ${Math.max(...r.counts)})\n`);
  }
}
