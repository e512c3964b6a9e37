// `npm start`: apply the local D1 migrations, then run dlq-ledger and the example worker
// (examples/jobs-worker) in one `wrangler dev` session on 127.0.0.1:$PORT (8787 by default),
// with the /dev routes on. Local state lives in .wrangler/state ($PERSIST_TO to keep it
// elsewhere); `npm start -- --reset` empties it first, and state holding ledgers this code would
// refuse is set aside (scripts/local-state.mjs). $INSPECTOR_PORT moves the debugger port off 9229.
// Node only, no dependencies: this is the first thing a new clone runs after `npm ci`.

import { spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { constants } from "node:os";
import { join, resolve } from "node:path";
import { devArgs, devConfigFor, root, wrangler } from "./dev-stack.mjs";
import { oldestUpgradable, prepareLocalState } from "./local-state.mjs";

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`npm start: ${message}`);
  process.exit(1);
}

if (!existsSync(wrangler)) fail("wrangler is not installed here: run `npm ci` first.");

const portText = process.env.PORT ?? "8787";
const port = Number(portText);
if (!/^\d+$/.test(portText) || port < 1 || port > 65535) fail(`PORT must be a TCP port (1-65535), not ${JSON.stringify(portText)}.`);
const inspectorPort = process.env.INSPECTOR_PORT;
if (inspectorPort !== undefined && !/^\d{1,5}$/.test(inspectorPort)) fail(`INSPECTOR_PORT must be a TCP port, not ${JSON.stringify(inspectorPort)}.`);
// A separate local state (D1, R2, queues, Durable Objects), e.g. for a throwaway run.
const persistArgs = process.env.PERSIST_TO ? ["--persist-to", process.env.PERSIST_TO] : [];

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--reset");
if (unknown.length > 0) fail(`unknown argument ${JSON.stringify(unknown[0])}: the only one is --reset (\`npm start -- --reset\` starts with empty local state).`);
try {
  const done = prepareLocalState({
    state: process.env.PERSIST_TO ? resolve(root, process.env.PERSIST_TO) : join(root, ".wrangler", "state"),
    oldest: oldestUpgradable(root),
    reset: args.includes("--reset"),
  });
  if (done) console.error(`npm start: ${done}`);
} catch (error) {
  fail(`could not check the local state: ${error instanceof Error ? error.message : String(error)}`);
}

/** @type {import("node:child_process").ChildProcess | undefined} */
let child;
let stopping = false;

/** @param {NodeJS.Signals} signal */
function stop(signal) {
  stopping = true;
  // wrangler's launcher (bin/wrangler.js) stops its CLI on SIGINT/SIGTERM but has no SIGHUP
  // handler, and dying on it would orphan the dev server: anything else goes on as SIGTERM.
  if (child && child.exitCode === null && child.signalCode === null) child.kill(signal === "SIGINT" ? "SIGINT" : "SIGTERM");
  else process.exit(128 + constants.signals[signal]);
}

// Ctrl-C in a terminal reaches wrangler directly (same process group); these cover a signal sent
// to this process alone (kill <pid>, process managers).
for (const signal of /** @type {NodeJS.Signals[]} */ (["SIGINT", "SIGTERM", "SIGHUP"])) process.on(signal, () => stop(signal));

// `npm start` runs us under `sh -c`; `kill <npm's pid>` makes npm signal that shell, and dash
// dies without passing the signal on, leaving us (and the dev server) orphaned. Notice and stop.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent && !stopping) {
    console.error("npm start: the parent process is gone; stopping wrangler.");
    stop("SIGTERM");
  }
}, 500).unref();

/**
 * Runs wrangler with the given arguments and resolves with its exit code (128+n for signal n).
 * @param {string[]} args
 * @param {{ stdin: "ignore" | "inherit", env?: NodeJS.ProcessEnv }} options
 * @returns {Promise<number>}
 */
function runWrangler(args, { stdin, env = process.env }) {
  return new Promise((resolve) => {
    child = spawn(process.execPath, [wrangler, ...args], { cwd: root, env, stdio: [stdin, "inherit", "inherit"] });
    child.on("error", (error) => fail(`could not run wrangler: ${error.message}`));
    child.on("exit", (code, signal) => {
      child = undefined;
      resolve(code ?? 128 + (signal ? constants.signals[signal] : 0));
    });
  });
}

// `migrations apply` asks "continue?" when it thinks a person is there. It skips the question
// (answering yes) when stdin is not a TTY or CI is set; we do both so it can never wait.
const migrated = await runWrangler(["d1", "migrations", "apply", "DB", "--local", ...persistArgs], {
  stdin: "ignore",
  env: { ...process.env, CI: "true" },
});
if (stopping) process.exit(migrated || 130);
if (migrated !== 0) fail(`applying the local D1 migrations failed (exit ${migrated}); see wrangler's message above.`);

// Local development only: the /dev routes on, delays short enough to watch the whole loop
// (fail, dead-letter, recovery retry, recovered) in under a minute, and documented dev secrets.
const LOCAL_VARS = {
  DEV_ROUTES: "true",
  FLUSH_DELAY_SECONDS: "2",
  RECOVERY_BASE_SECONDS: "2",
  RECOVERY_CAP_SECONDS: "10",
  PRESUME_RECOVERED_AFTER_SECONDS: "30",
  CIRCUIT_COOLDOWN_SECONDS: "15",
  ADMIN_TOKEN: "dev-admin-token",
  RETRY_SEAL_KEY: "dev-seal-key",
};

// Both workers share the local queues: jobs (the example's), jobs-dlq and the parking queue all
// run locally, dead-lettering included.
const code = await runWrangler(
  devArgs({ port, inspectorPort: inspectorPort ? Number(inspectorPort) : undefined, persistTo: process.env.PERSIST_TO || undefined, vars: LOCAL_VARS }),
  { stdin: "inherit" },
);
rmSync(join(root, devConfigFor(port)), { force: true });
process.exit(code);
