// `npm run storm [-- --tenants 100 --jobs 1000]`: a failure storm through the real local stack.
// Starts `npm start` (wrangler dev: real local queues with their retries and dead-lettering) on a
// free port with its own state, fills the demo queue with failing jobs for many tenants at a pace
// the local broker accepts, and watches over HTTP until every job is recorded once and flushed to
// D1 and R2. Prints what was sent, recorded, duplicated and lost, how long it took, the alerts
// and notices sent, and how a quiet tenant's reads fared during the storm. Exits non-zero on any
// loss or duplicate. Node only, no dependencies; it talks to the stack only over HTTP.

import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    tenants: { type: "string", default: "100" },
    jobs: { type: "string", default: "1000" },
    // Jobs sent per second. Each failing job waits 1 + 2 + 4 s between its deliveries, so about
    // 7 s × rate messages are delayed at once; the local broker allows 10,000.
    rate: { type: "string", default: "1000" },
    "timeout-minutes": { type: "string", default: "30" },
  },
});
for (const [name, value] of Object.entries(values)) {
  if (!/^\d+$/.test(String(value)) || Number(value) < 1) {
    console.error(`npm run storm: --${name} must be a positive whole number, not ${value}`);
    process.exit(2);
  }
}
const TENANTS = Number(values.tenants);
const JOBS = Number(values.jobs);
const RATE = Number(values.rate);
const TIMEOUT_MS = Number(values["timeout-minutes"]) * 60_000;
const ADMIN = "dev-admin-token";
const QUIET = "storm-quiet";
const QUIET_JOBS = 20;
/** Jobs per POST /dev/jobs (it takes up to 1,000). */
const CHUNK = 250;
/** USER_NOTIFY_LIMIT in wrangler.toml: notices per user per window, then one digest. */
const USER_NOTIFY_LIMIT = 5;

const sleep = (/** @type {number} */ ms) => new Promise((r) => setTimeout(r, ms));
const log = (/** @type {string} */ text) => console.log(`storm ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${text}`);
const t0 = Date.now();

/** @returns {Promise<number>} */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no free port"))));
    });
  });
}

// ---- the local stack, through `npm start` itself ----
const [port, inspector] = [await freePort(), await freePort()];
const persist = await mkdtemp(join(tmpdir(), "dlq-storm-"));
const base = `http://127.0.0.1:${port}`;
let stackLog = "";
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const stack = spawn(npm, ["start"], {
  cwd: root,
  env: { ...process.env, PORT: String(port), INSPECTOR_PORT: String(inspector), PERSIST_TO: persist, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" },
  stdio: ["ignore", "pipe", "pipe"],
  detached: true,
});
stack.stdout.on("data", (d) => (stackLog = (stackLog + d.toString()).slice(-20_000)));
stack.stderr.on("data", (d) => (stackLog = (stackLog + d.toString()).slice(-20_000)));

async function stopStack() {
  if (stack.exitCode === null && stack.signalCode === null && stack.pid) {
    try {
      process.kill(-stack.pid, "SIGTERM"); // the group we started: npm, start.mjs, wrangler, workerd
    } catch {
      // already gone
    }
    await Promise.race([new Promise((r) => stack.once("exit", r)), sleep(10_000)]);
    try {
      process.kill(-stack.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  await rm(persist, { recursive: true, force: true });
}

/** @param {number} code @param {string} [message] @returns {Promise<never>} */
async function finish(code, message) {
  if (message) console.error(`npm run storm: ${message}`);
  await stopStack();
  process.exit(code);
}
process.on("SIGINT", () => void finish(130, "interrupted"));

/** @param {string} path @param {RequestInit} [init] */
async function api(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${ADMIN}`);
  if (init.body) headers.set("content-type", "application/json");
  return fetch(`${base}${path}`, { ...init, headers });
}

async function waitHealthy() {
  const deadline = Date.now() + 240_000;
  while (Date.now() < deadline) {
    if (stack.exitCode !== null) await finish(1, `npm start exited (${stack.exitCode}):\n${stackLog}`);
    try {
      if ((await fetch(`${base}/health`)).ok) return;
    } catch {
      // not up yet
    }
    await sleep(500);
  }
  await finish(1, `the local stack did not answer /health within 4 minutes:\n${stackLog}`);
}

/**
 * Enqueues `count` failing jobs for a tenant; a refused send (503) is waited out and the rest sent
 * again. Resolves with how many were enqueued.
 * @param {string} tenant @param {string} prefix @param {number} count @param {object} fail @param {string} [userId]
 * @returns {Promise<number>}
 */
async function enqueue(tenant, prefix, count, fail, userId) {
  let sent = 0;
  for (let attempt = 0; sent < count; attempt++) {
    const res = await api("/dev/jobs", {
      method: "POST",
      body: JSON.stringify({ tenantId: tenant, jobId: `${prefix}-a${attempt}`, count: count - sent, fail, ...(userId ? { userId } : {}) }),
    });
    if (res.status === 202) return sent + /** @type {any} */ (await res.json()).enqueued;
    /** @type {any} */
    const body = await res.json().catch(() => ({}));
    if (res.status !== 503) await finish(1, `POST /dev/jobs answered ${res.status}: ${JSON.stringify(body)}`);
    refusals++;
    sent += body.error?.details?.enqueued ?? 0;
    await sleep(Number(res.headers.get("retry-after") ?? 5) * 1000);
  }
  return sent;
}
let refusals = 0;

/** Prometheus text -> metric -> tenant -> value */
async function metrics() {
  const text = await (await api("/metrics")).text();
  /** @type {Map<string, Map<string, number>>} */
  const out = new Map();
  for (const line of text.split("\n")) {
    const m = /^(\w+)\{tenant="([^"]*)"\} (\S+)$/.exec(line);
    if (!m) continue;
    const [, name = "", tenant = "", value = ""] = m;
    if (!out.has(name)) out.set(name, new Map());
    out.get(name)?.set(tenant, Number(value));
  }
  return out;
}

const quietReads = {
  stats: `/api/queue/dlq/stats?tenant=${QUIET}`,
  failures: `/api/queue/dlq/failures?tenant=${QUIET}&limit=50`,
};
/** @param {"stats" | "failures"} kind */
async function timeRead(kind) {
  const at = performance.now();
  const res = await api(quietReads[kind]);
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`GET ${quietReads[kind]} answered ${res.status}`);
  return performance.now() - at;
}
/** @param {number[]} samples @param {number} p */
const pct = (samples, p) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

// ---- run ----
log(`starting the local stack (npm start) on ${base}, state in ${persist}`);
await waitHealthy();
log("up");

const userFail = { message: "chart 42 not found", status: 404 };
const systemFail = { message: "renderer crashed: internal error", status: 500 };
await enqueue(QUIET, "quiet", QUIET_JOBS, userFail, "quiet-user");
for (const deadline = Date.now() + 120_000; ; ) {
  const s = /** @type {any} */ (await (await api(quietReads.stats)).json());
  if (s.total === QUIET_JOBS && s.outbox?.pendingRows === 0) break;
  if (Date.now() > deadline) await finish(1, `the quiet tenant's ${QUIET_JOBS} jobs were not recorded in 2 minutes (${s.total})`);
  await sleep(1000);
}
/** @type {{ stats: number[], failures: number[] }} */
const before = { stats: [], failures: [] };
for (let i = 0; i < 60; i++) for (const kind of /** @type {const} */ (["stats", "failures"])) before[kind].push(await timeRead(kind));
log(`quiet tenant ready; reads before the storm: stats p50 ${pct(before.stats, 50).toFixed(1)} ms, failures p50 ${pct(before.failures, 50).toFixed(1)} ms`);

const tenants = Array.from({ length: TENANTS }, (_, i) => `storm-${String(i).padStart(4, "0")}`);
/** Even tenants fail with a SYSTEM_ERROR (ops alerts), odd ones with a USER_ERROR for one user (notices). */
const failOf = (/** @type {number} */ i) => (i % 2 === 0 ? { fail: systemFail, userId: undefined } : { fail: userFail, userId: `user-${i}` });
const sentPer = new Map(tenants.map((t) => [t, 0]));
const stormStart = Date.now();
let sending = true;
/** @type {{ stats: number[], failures: number[] }} */
const during = { stats: [], failures: [] };
const sampler = (async () => {
  for (let i = 0; sending; i++) {
    const kind = i % 2 === 0 ? "stats" : "failures";
    try {
      during[kind].push(await timeRead(kind));
    } catch (error) {
      console.error(`storm: quiet read failed: ${error instanceof Error ? error.message : error}`);
    }
    await sleep(200);
  }
})();

log(`storm: ${TENANTS} tenants × ${JOBS} failing jobs at about ${RATE} jobs/s`);
{
  const chunks = [];
  for (const [i, tenant] of tenants.entries()) for (let sent = 0, c = 0; sent < JOBS; sent += CHUNK, c++) chunks.push({ i, tenant, c, count: Math.min(CHUNK, JOBS - sent) });
  // Interleave tenants, as a storm does: every tenant's jobs fail at once.
  chunks.sort((a, b) => a.c - b.c || a.i - b.i);
  let budgetAt = Date.now();
  for (const [n, chunk] of chunks.entries()) {
    const { fail, userId } = failOf(chunk.i);
    const enqueued = await enqueue(chunk.tenant, `${chunk.tenant}-c${chunk.c}`, chunk.count, fail, userId);
    sentPer.set(chunk.tenant, (sentPer.get(chunk.tenant) ?? 0) + enqueued);
    budgetAt += (chunk.count / RATE) * 1000;
    const wait = budgetAt - Date.now();
    if (wait > 0) await sleep(wait);
    if (n % 40 === 39) log(`sent ${[...sentPer.values()].reduce((a, b) => a + b, 0)} jobs`);
  }
}
const totalSent = [...sentPer.values()].reduce((a, b) => a + b, 0);
log(`all ${totalSent} jobs sent in ${((Date.now() - stormStart) / 1000).toFixed(1)} s (${refusals} refused sends waited out)`);

// ---- watch until every job is recorded and flushed ----
/** @type {number | null} */
let recordedAt = null;
let last = { total: -1, at: Date.now() };
for (;;) {
  const view = await metrics();
  const total = tenants.reduce((n, t) => n + (view.get("dlq_failures_recorded_total")?.get(t) ?? 0), 0);
  const pending = tenants.reduce((n, t) => n + (view.get("dlq_outbox_pending_rows")?.get(t) ?? 0), 0);
  const listed = tenants.filter((t) => view.get("dlq_failures_recorded_total")?.has(t)).length;
  if (total !== last.total) last = { total, at: Date.now() };
  if (total >= totalSent && pending === 0 && listed === TENANTS) {
    recordedAt = Date.now();
    break;
  }
  log(`recorded ${total} of ${totalSent}, ${pending} outbox rows pending, ${listed} tenants in D1`);
  if (Date.now() - last.at > 180_000 || Date.now() - stormStart > TIMEOUT_MS) break;
  await sleep(3000);
}
sending = false;
await sampler;

// ---- account for every job: the ledgers (live), D1 (cross-tenant stats), R2 (archived occurrences) ----
const d1 = /** @type {{ tenants?: { tenant: string, total: number }[] }} */ (await (await api(`/api/queue/dlq/stats?limit=1000`)).json());
const d1Total = new Map((d1.tenants ?? []).map((t) => [t.tenant, t.total]));
let recordedOnce = 0;
let duplicated = 0;
let lost = 0;
let notD1 = 0;
let notR2 = 0;
const notify = { sent: 0, suppressed: 0, digests: 0, alerts: 0, maxNoticesPerUser: 0, maxAlertsPerTenant: 0 };
for (const [i, tenant] of tenants.entries()) {
  const s = /** @type {any} */ (await (await api(`/api/queue/dlq/stats?tenant=${tenant}`)).json());
  const sent = sentPer.get(tenant) ?? 0;
  recordedOnce += Math.min(s.total, sent);
  lost += Math.max(0, sent - s.total);
  duplicated += Math.max(0, s.total - sent) + Math.max(0, s.occurrences - s.total);
  notD1 += Math.max(0, sent - (d1Total.get(tenant) ?? 0));
  notR2 += Math.max(0, sent - (s.archive?.occurrences ?? 0));
  const n = s.notifications ?? {};
  notify.sent += n.sent ?? 0;
  notify.suppressed += n.suppressed ?? 0;
  notify.digests += n.digests ?? 0;
  notify.alerts += n.alerts ?? 0;
  if (i % 2 === 1) notify.maxNoticesPerUser = Math.max(notify.maxNoticesPerUser, n.sent ?? 0);
  notify.maxAlertsPerTenant = Math.max(notify.maxAlertsPerTenant, n.alerts ?? 0);
}
const stormMinutes = Math.max(1, Math.ceil(((recordedAt ?? Date.now()) - stormStart) / 60_000));
const ratio = (/** @type {"stats" | "failures"} */ kind, /** @type {number} */ p) => (pct(during[kind], p) / pct(before[kind], p)).toFixed(2);
const ms = (/** @type {number} */ v) => `${v.toFixed(1)} ms`;

console.log(`
storm: ${TENANTS} tenants × ${JOBS} failing jobs through the local queues (wrangler dev)
  jobs sent                      ${totalSent}${refusals ? ` (${refusals} sends refused by the broker, waited out and resent)` : ""}
  recorded once                  ${recordedOnce}
  duplicated                     ${duplicated}
  lost                           ${lost}
  missing in D1 / in R2          ${notD1} / ${notR2}
  all recorded and flushed in    ${recordedAt ? `${((recordedAt - stormStart) / 1000).toFixed(0)} s from the first send` : "never (timed out)"}
  notices sent / suppressed      ${notify.sent} / ${notify.suppressed} (+ ${notify.digests} digests); at most ${notify.maxNoticesPerUser} to one user (limit ${USER_NOTIFY_LIMIT} per window): ${notify.maxNoticesPerUser <= USER_NOTIFY_LIMIT ? "held" : "NOT held"}
  ops alerts raised              ${notify.alerts}; at most ${notify.maxAlertsPerTenant} for one tenant in ${stormMinutes} min
  quiet tenant, during / before  stats p50 ${ratio("stats", 50)}× (${ms(pct(during.stats, 50))} / ${ms(pct(before.stats, 50))}), p99 ${ratio("stats", 99)}× (${ms(pct(during.stats, 99))} / ${ms(pct(before.stats, 99))})
                                 failures page p50 ${ratio("failures", 50)}× (${ms(pct(during.failures, 50))} / ${ms(pct(before.failures, 50))}), p99 ${ratio("failures", 99)}× (${ms(pct(during.failures, 99))} / ${ms(pct(before.failures, 99))})
                                 (${during.stats.length + during.failures.length} reads during the storm)
`);
const bad = lost > 0 || duplicated > 0 || notD1 > 0 || notR2 > 0 || !recordedAt;
await finish(bad ? 1 : 0, bad ? "jobs were lost, duplicated or not flushed (see above)" : undefined);
