// The `dlq` command: parses the command line (node:util parseArgs), builds the API client from
// DLQ_URL / DLQ_TOKEN or --url / --token, runs one command and returns its exit code:
// 0 success, 1 failure, 2 usage.

import { parseArgs } from "node:util";
import { Client } from "./client.mjs";
import { CliError, UsageError } from "./errors.mjs";
import { exportFailures } from "./commands/export.mjs";
import { groups, list, series, show, stats } from "./commands/read.mjs";
import { abandon, operations, requeue } from "./commands/recover.mjs";
import { tokens } from "./commands/tokens.mjs";

/**
 * @typedef {import("./format.mjs").Out} Out
 * @typedef {{ env: Record<string, string | undefined>, stdout: Out, stderr: Out, fetch?: typeof globalThis.fetch, now?: () => number, sleep?: (ms: number) => Promise<void> }} Io
 * @typedef {import("node:util").ParseArgsConfig["options"]} Options
 */

/** @type {NonNullable<Options>} */
const GLOBAL = {
  url: { type: "string" },
  token: { type: "string" },
  tenant: { type: "string" },
  json: { type: "boolean" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean", short: "h" },
};
/** @type {NonNullable<Options>} */
const FILTERS = {
  filter: { type: "string", multiple: true },
  class: { type: "string" },
  queue: { type: "string" },
  status: { type: "string" },
  group: { type: "string" },
  from: { type: "string" },
  to: { type: "string" },
};
/** @type {NonNullable<Options>} */
const BULK = { ...FILTERS, all: { type: "boolean" }, "dry-run": { type: "boolean" }, rate: { type: "string" }, "no-wait": { type: "boolean" } };

/** @type {Record<string, { run: (ctx: import("./context.mjs").Context) => Promise<void>, options: NonNullable<Options>, usage: string, summary: string, about: string }>} */
const COMMANDS = {
  stats: {
    summary: "Live counters of a tenant, or (admin) totals across tenants",
    run: stats,
    options: { limit: { type: "string" } },
    usage: "dlq stats [--tenant T] [--limit N]",
    about: "Live counters of a tenant. With the admin token and no --tenant: totals across tenants (--limit: tenants listed).",
  },
  list: {
    summary: "Failures, newest first, with filters and paging",
    run: list,
    options: { ...FILTERS, q: { type: "string", short: "q" }, field: { type: "string" }, value: { type: "string" }, limit: { type: "string" }, cursor: { type: "string" } },
    usage: "dlq list [--class C] [--queue Q] [--status S] [--group G] [--filter key=value] [-q TEXT] [--field PATH --value V] [--limit N] [--cursor C]",
    about:
      "Failures, newest first, one page at a time (--limit, default 20); the next page's command is printed on stderr. -q searches the job id, error message, reason and stored body (any case); --field PATH --value V matches one JSON body field exactly (e.g. --field userId --value u-42). A search looks at up to 2,000 failures per page, so a page may be short while more follow.",
  },
  show: { summary: "One failure: error, body, archive and history", run: show, options: {}, usage: "dlq show <jobId>", about: "One failure: error, body, archive and who acted on it." },
  groups: {
    summary: "Failure groups, most recently seen first",
    run: groups,
    options: { limit: { type: "string" }, note: { type: "string" } },
    usage: "dlq groups [--limit N] | dlq groups resolve <GROUP> [--note TEXT] | dlq groups ack|reopen <GROUP> | dlq groups history <GROUP> [--limit N]",
    about:
      "Failure groups (same error, same job type), most recent first, each with its state and its last 24 hours as a sparkline. resolve: a failure after it reopens the group as regressed, with one alert; ack: a regressed group stays open, as ongoing; reopen: a resolved group is open again; history: who changed its state, and when.",
  },
  series: {
    summary: "Failures over time: per minute, hour and day",
    run: series,
    options: { group: { type: "string" } },
    usage: "dlq series [--group G]",
    about: "Failures over time, of the tenant or one group: per minute for the last hour, per hour for the last 24 h, per day for the last 14 days.",
  },
  requeue: {
    summary: "Send failed jobs back to their queue: one, or by filter",
    run: requeue,
    options: { ...BULK, delay: { type: "string" }, "body-file": { type: "string" } },
    usage: "dlq requeue <jobId> [--delay S] [--body-file F] | dlq requeue --filter key=value … | --all [--dry-run] [--rate N] [--delay S] [--no-wait]",
    about:
      "Send failed jobs back to their origin queue: one by id (--body-file F: with the body in F instead of its own, JSON if F parses as JSON, else its text), or every match of a filter (keys: class, queue, status, group, from, to; also as --class … flags) at --rate per second (default 50). --dry-run counts them and changes nothing.",
  },
  abandon: {
    summary: "Give up on failed jobs, with a reason: one, or by filter",
    run: abandon,
    options: { ...BULK, reason: { type: "string" } },
    usage: 'dlq abandon <jobId> --reason "…" | dlq abandon --filter key=value … | --all --reason "…" [--dry-run] [--rate N] [--no-wait]',
    about: "Give up on failed jobs, with a reason for the audit trail; they are never retried again.",
  },
  export: {
    summary: "Every failure as NDJSON or CSV",
    run: exportFailures,
    options: { ...FILTERS, format: { type: "string" }, output: { type: "string", short: "o" }, "page-size": { type: "string" } },
    usage: "dlq export --format ndjson|csv [--output FILE] [--class C] [--queue Q] [--status S] [--group G] [--from T] [--to T] [--page-size N]",
    about: "Every failure (all pages, streamed), as NDJSON or CSV. CSV cells that start with = + - @ get a leading ' so spreadsheets do not run them.",
  },
  tokens: {
    summary: "Create, list and revoke tenant tokens (admin)",
    run: tokens,
    options: { label: { type: "string" }, scope: { type: "string" }, revoked: { type: "boolean" } },
    usage: "dlq tokens create --tenant T --label WHO [--scope read|operate] | dlq tokens list [--tenant T] [--revoked] | dlq tokens revoke <tokenId>",
    about:
      "Tenant tokens (admin token only). A new token is printed once, on stdout. --scope read: view only; operate (the default): also requeue, abandon and bulk operations.",
  },
  operations: {
    summary: "Progress of a bulk requeue or abandon",
    run: operations,
    options: { wait: { type: "boolean" } },
    usage: "dlq operations show <operationId> [--wait]",
    about: "Progress of a bulk requeue or abandon; --wait follows it to the end.",
  },
};

const GLOBAL_HELP = `Options for every command:
  --url URL        the dlq-ledger worker (or DLQ_URL), e.g. http://127.0.0.1:8787
  --token TOKEN    the admin token or a tenant token (or DLQ_TOKEN)
  --tenant T       the tenant to act on, with the admin token (a tenant token acts on its own)
  --json           print the API's JSON, for scripts
  --no-progress    no progress bar (it is only drawn on a terminal anyway)
Exit codes: 0 success, 1 failure, 2 usage.`;

function help() {
  const rows = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(12)}${c.summary}`);
  return `dlq: the dead-letter ledger from a terminal.\n\nUsage: dlq <command> [options]\n\nCommands:\n${rows.join("\n")}\n\n${GLOBAL_HELP}\n\nMore on one command: dlq help <command>\n`;
}

/** @param {string} name */
function commandHelp(name) {
  const c = COMMANDS[name];
  return c ? `Usage: ${c.usage}\n\n${c.about}\n\n${GLOBAL_HELP}\n` : help();
}

/** @param {string[]} argv @param {Io} io @returns {Promise<number>} */
export async function main(argv, io) {
  const [name, ...rest] = argv;
  if (name === undefined || name === "help" || name === "--help" || name === "-h") {
    const topic = name === "help" ? rest[0] : undefined;
    if (topic !== undefined && !(topic in COMMANDS)) {
      io.stderr.write(`dlq: no command ${JSON.stringify(topic)}.\n\n${help()}`);
      return 2;
    }
    (name === undefined ? io.stderr : io.stdout).write(topic ? commandHelp(topic) : help());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  try {
    if (!command) throw new UsageError(`no command ${JSON.stringify(name)}${name.startsWith("-") ? " (put options after the command)" : ""}`);
    /** @type {{ values: Record<string, string | boolean | string[] | undefined>, positionals: string[] }} */
    let parsed;
    try {
      parsed = /** @type {typeof parsed} */ (parseArgs({ args: rest, options: { ...GLOBAL, ...command.options }, allowPositionals: true, strict: true }));
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message.replace(/\. To specify a positional.*$/s, "") : String(error), name);
    }
    const { values, positionals } = parsed;
    if (values.help === true) {
      io.stdout.write(commandHelp(name));
      return 0;
    }
    const url = typeof values.url === "string" ? values.url : io.env.DLQ_URL;
    const token = typeof values.token === "string" ? values.token : io.env.DLQ_TOKEN;
    if (!url) throw new UsageError("no API address: set DLQ_URL (e.g. http://127.0.0.1:8787) or pass --url", name);
    if (!/^https?:\/\/[^\s]+$/.test(url)) throw new UsageError(`--url (or DLQ_URL) must be an http(s) URL, not ${JSON.stringify(url)}`, name);
    if (!token) throw new UsageError("no token: set DLQ_TOKEN or pass --token (the admin token, or a tenant token from `dlq tokens create`)", name);
    const json = values.json === true;
    const client = new Client({
      url,
      token,
      fetch: io.fetch,
      sleep: io.sleep,
      onWait: (seconds) => io.stderr.write(`Rate limited: waiting ${seconds} s as the server asks…\n`),
    });
    await command.run({
      command: name,
      client,
      out: io.stdout,
      err: io.stderr,
      json,
      tenant: typeof values.tenant === "string" ? values.tenant : undefined,
      progress: !json && values["no-progress"] !== true && io.stderr.isTTY === true,
      now: io.now ?? Date.now,
      sleep: io.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms))),
      values,
      positionals,
    });
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`dlq: ${error.message}\n`);
      io.stderr.write(error.command && COMMANDS[error.command] ? `Usage: ${COMMANDS[error.command]?.usage}\nMore: dlq help ${error.command}\n` : "See: dlq help\n");
      return 2;
    }
    if (error instanceof CliError) {
      io.stderr.write(`dlq: ${error.message}\n${error.hint ? `  → ${error.hint}\n` : ""}`);
      return error.exitCode;
    }
    const e = /** @type {{ code?: string, message?: string }} */ (error);
    if (e?.code === "ENOENT" || e?.code === "EACCES" || e?.code === "EISDIR") {
      io.stderr.write(`dlq: ${e.message}\n  → check the --output or --body-file path\n`);
      return 1;
    }
    io.stderr.write(`dlq: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  }
}
