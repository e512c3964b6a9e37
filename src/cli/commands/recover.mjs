// dlq requeue · dlq abandon · dlq operations show

import { readFile } from "node:fs/promises";
import { CliError, UsageError } from "../errors.mjs";
import { intOption, printJson, readFilter, stringOption, tenantQuery } from "../context.mjs";
import { progress } from "../format.mjs";

/** @typedef {import("../context.mjs").Context} Context */
/** @import { FailureWithBody, Operation, OperationPreview } from "../../contract/schemas" */

/**
 * A replacement body from a file: JSON when the file parses as JSON, otherwise its text.
 * @param {string} file @returns {Promise<{ body: unknown, bodyEncoding: "json" | "text" }>}
 */
async function replacementFrom(file) {
  const text = await readFile(file, "utf8");
  try {
    return { body: JSON.parse(text), bodyEncoding: "json" };
  } catch {
    return { body: text, bodyEncoding: "text" };
  }
}

/** Between two looks at a running operation. */
const POLL_MS = 500;

/** @param {Context} ctx */
export const requeue = (ctx) => recover(ctx, "requeue");
/** @param {Context} ctx */
export const abandon = (ctx) => recover(ctx, "abandon");

/** @param {Context} ctx @param {"requeue" | "abandon"} action */
async function recover(ctx, action) {
  const filter = readFilter(ctx);
  const reason = stringOption(ctx, "reason");
  const delay = intOption(ctx, "delay", 0, 43_200);
  const rate = intOption(ctx, "rate", 1, 1000);
  const all = ctx.values.all === true;
  const usage = action === "requeue" ? "dlq requeue <jobId> | dlq requeue --filter key=value … [--dry-run] [--rate N]" : "dlq abandon <jobId> --reason … | dlq abandon --filter key=value … --reason …";
  if (action === "abandon" && reason === undefined && ctx.values["dry-run"] !== true) throw new UsageError(`abandon needs --reason "why": ${usage}`, action);
  if (action === "requeue" && reason !== undefined) throw new UsageError("--reason is for abandon", action);
  if (action === "abandon" && delay !== undefined) throw new UsageError("--delay is for requeue", action);
  const bodyFile = stringOption(ctx, "body-file");

  const jobId = ctx.positionals[0];
  if (jobId !== undefined) {
    if (ctx.positionals.length > 1 || Object.keys(filter).length || all) throw new UsageError(`give one job id or a filter, not both: ${usage}`, action);
    if (ctx.values["dry-run"] === true || rate !== undefined) throw new UsageError("--dry-run and --rate are for bulk operations (--filter)", action);
    const path = `/api/queue/dlq/failures/${encodeURIComponent(jobId)}/${action}`;
    const body = action === "requeue" ? { delaySeconds: delay ?? 0, ...(bodyFile === undefined ? {} : await replacementFrom(bodyFile)) } : { reason };
    /** @type {FailureWithBody} */
    const failure = await ctx.client.request("POST", path, { query: tenantQuery(ctx), body });
    if (ctx.json) return printJson(ctx, failure);
    const edited = bodyFile === undefined ? "" : ` with the body from ${bodyFile}`;
    ctx.out.write(action === "requeue" ? `Requeued ${failure.jobId} to ${failure.queue}${edited}${delay ? ` in ${delay} s` : ""}: now ${failure.status}.\n` : `Abandoned ${failure.jobId}: ${failure.recovery?.note ?? reason}.\n`);
    return;
  }
  if (bodyFile !== undefined) throw new UsageError("--body-file replaces one job's body: give its job id, not a filter", action);
  if (!Object.keys(filter).length && !all) throw new UsageError(`say which failures: a job id, --filter key=value, or --all for every one: ${usage}`, action);

  /** @type {Record<string, unknown>} */
  const request = { action, filter, ...(rate === undefined ? {} : { rate }), ...(reason === undefined ? {} : { reason }), ...(delay === undefined ? {} : { delaySeconds: delay }) };
  if (ctx.values["dry-run"] === true) {
    /** @type {OperationPreview} */
    const preview = await ctx.client.request("POST", "/api/queue/dlq/operations", { query: tenantQuery(ctx), body: { ...request, dryRun: true } });
    if (ctx.json) return printJson(ctx, preview);
    ctx.out.write(`Would ${action} ${preview.matched} failure${preview.matched === 1 ? "" : "s"}${preview.sample.length ? `, e.g. ${preview.sample.join(", ")}` : ""}.\n`);
    ctx.out.write("Nothing was changed (dry run).\n");
    return;
  }
  /** @type {Operation} */
  const started = await ctx.client.request("POST", "/api/queue/dlq/operations", { query: tenantQuery(ctx), body: request });
  if (ctx.values["no-wait"] === true) {
    if (ctx.json) return printJson(ctx, started);
    ctx.out.write(`Started operation ${started.id}: ${action} ${started.total} failures at ${started.rate}/s.\nFollow it with: dlq operations show ${started.id}${ctx.tenant ? ` --tenant ${ctx.tenant}` : ""} --wait\n`);
    return;
  }
  const finished = await follow(ctx, started, `${action === "requeue" ? "Requeueing" : "Abandoning"}`);
  report(ctx, finished);
}

/**
 * Polls an operation until it is done, with a progress bar on a terminal.
 * @param {Context} ctx @param {Operation} operation @param {string} label
 */
async function follow(ctx, operation, label) {
  const bar = progress(ctx.err, { enabled: ctx.progress, label, now: ctx.now });
  let op = operation;
  try {
    while (op.status === "running") {
      bar.update(op.processed, op.total);
      await ctx.sleep(POLL_MS);
      op = await ctx.client.request("GET", `/api/queue/dlq/operations/${encodeURIComponent(op.id)}`, { query: tenantQuery(ctx) });
    }
    bar.update(op.processed, op.total);
  } finally {
    bar.done();
  }
  return op;
}

/** The outcome of a finished operation; exit 1 when any item failed. @param {Context} ctx @param {Operation} op */
function report(ctx, op) {
  if (ctx.json) printJson(ctx, op);
  else {
    const verb = op.action === "requeue" ? "Requeued" : "Abandoned";
    ctx.out.write(`${verb} ${op.succeeded} of ${op.total} (operation ${op.id}).\n`);
    for (const e of op.errors) ctx.out.write(`  ${e.jobId}: ${e.error}\n`);
    if (op.failed > op.errors.length) ctx.out.write(`  … and ${op.failed - op.errors.length} more\n`);
  }
  if (op.failed > 0) {
    throw new CliError(`${op.failed} of ${op.total} could not be ${op.action === "requeue" ? "requeued" : "abandoned"}`, {
      hint: `see why with: dlq operations show ${op.id}${ctx.tenant ? ` --tenant ${ctx.tenant}` : ""}`,
    });
  }
}

/** @param {Context} ctx */
export async function operations(ctx) {
  const [sub, id, ...rest] = ctx.positionals;
  if (sub !== "show" || !id || rest.length) throw new UsageError("dlq operations show <operationId> [--wait]", "operations");
  /** @type {Operation} */
  let op = await ctx.client.request("GET", `/api/queue/dlq/operations/${encodeURIComponent(id)}`, { query: tenantQuery(ctx) });
  if (ctx.values.wait === true && op.status === "running") op = await follow(ctx, op, op.action === "requeue" ? "Requeueing" : "Abandoning");
  if (op.status === "done") return report(ctx, op);
  if (ctx.json) return printJson(ctx, op);
  ctx.out.write(`Operation ${op.id}: ${op.action} by ${op.createdBy}, ${op.status}, ${op.processed}/${op.total} processed (${op.succeeded} done, ${op.failed} failed).\n`);
}
