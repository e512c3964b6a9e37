// The local stack both `npm start` and the Node-side tests run: dlq-ledger and the example
// worker (examples/jobs-worker) in one `wrangler dev` session (multi-config), so they share
// the local queues: the example's `jobs` dead-letters into dlq-ledger's `jobs-dlq`.
//
// The first config is served on the port; the example is reached through a service binding.
// That binding (JOBS_WORKER, behind POST /dev/jobs) is local only: deploying a worker bound to
// a worker that does not exist fails, and yours is not called jobs-worker. So it is added to a
// generated copy of wrangler.toml, next to it (its relative paths stay valid), never committed.

import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const root = dirname(dirname(fileURLToPath(import.meta.url)));
// The package's own entry, run with this Node: no shell, no .cmd shim, no global install.
export const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");
export const exampleConfig = join("examples", "jobs-worker", "wrangler.toml");

const DEV_BINDING = `
# ---- added by scripts/dev-stack.mjs for local development: POST /dev/jobs forwards here ----
[[services]]
binding = "JOBS_WORKER"
service = "jobs-worker"
`;

/**
 * Writes the local config (wrangler.toml plus the JOBS_WORKER binding) and returns its name.
 * Each session needs its own file: `wrangler dev` reloads when its config changes, and a reload
 * drops the messages in the local queues.
 * @param {string} name
 */
export function writeDevConfig(name) {
  const header = "# Generated from wrangler.toml by scripts/dev-stack.mjs on every `npm start`: edit wrangler.toml instead.\n";
  const text = header + readFileSync(join(root, "wrangler.toml"), "utf8") + DEV_BINDING;
  // Written whole and renamed: concurrent starts (tests run several) never read half a file.
  const temp = join(root, `${name}.${process.pid}`);
  writeFileSync(temp, text);
  renameSync(temp, join(root, name));
  return name;
}

/** The generated config of the session on `port` (gitignored; tests remove theirs). */
export const devConfigFor = (/** @type {number} */ port) => `.wrangler.dev.${port}.toml`;

/**
 * `wrangler dev` arguments for both workers on 127.0.0.1:`port`.
 * @param {{ port: number, inspectorPort?: number, persistTo?: string, vars: Record<string, string> }} options
 * @returns {string[]}
 */
export function devArgs({ port, inspectorPort, persistTo, vars }) {
  return [
    "dev",
    "-c",
    writeDevConfig(devConfigFor(port)),
    "-c",
    exampleConfig,
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    ...(inspectorPort === undefined ? [] : ["--inspector-port", String(inspectorPort)]),
    ...(persistTo === undefined ? [] : ["--persist-to", persistTo]),
    ...Object.entries(vars).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
  ];
}
