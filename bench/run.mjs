#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --verbose]`: runs the bench suites in workerd (vitest with
// bench/vitest.config.ts), samples the memory of the runtime processes meanwhile, prices the
// counted units (bench/prices.mjs), prints the tables and writes bench/results/<time>-<scale>.json.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PRICES, QUEUE_OPS_PER_MESSAGE } from "./prices.mjs";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const HELP = `npm run bench [-- options]
  --quick               smaller sizes (read: 1,000 / 10,000 / 100,000 failures)
  --read-sizes A,B,…    the read suite's ledger sizes instead (default 1000,100000,1000000)
  --only S[,S…]         run only these suites: throughput, cost, read, mechanisms
  --verbose             vitest's output as it runs`;
const SUITES = { throughput: "1-throughput", cost: "2-cost", read: "3-read", mechanisms: "4-mechanisms" };
const args = new Set();
/** @type {string | undefined} */ let readSizes;
/** @type {string[]} */ let only = [];
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i] ?? "";
  const value = argv[i + 1] ?? "";
  if (arg === "--help" || arg === "-h") {
    console.log(HELP);
    process.exit(0);
  } else if (arg === "--read-sizes" && /^\d+(,\d+)*$/.test(value)) {
    readSizes = value;
    i++;
  } else if (arg === "--only" && value.split(",").every((n) => n in SUITES)) {
    only = value.split(",");
    i++;
  } else if (arg === "--quick" || arg === "--verbose") args.add(arg);
  else {
    console.error(`bench: bad option ${arg}\n${HELP}`);
    process.exit(2);
  }
}
const scale = args.has("--quick") ? "quick" : "full";
const verbose = args.has("--verbose");
const resultsDir = join(root, "bench", "results");
mkdirSync(resultsDir, { recursive: true });
const rawPath = join(resultsDir, `.raw-${process.pid}.json`);

// ---- memory: every process under the vitest run, sampled from /proc (Linux) ----

/** @returns {Map<number, {ppid: number, comm: string, rss: number}>} */
function processTable() {
  const table = new Map();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      const rssPages = Number(fields[21]);
      table.set(Number(name), { ppid: Number(fields[1]), comm, rss: rssPages * 4096 });
    } catch {
      // the process ended between readdir and read
    }
  }
  return table;
}

/**
 * RSS of the processes under `pid`, summed by kind: the workerd runtime, and Node (vitest).
 * @param {number} pid
 */
function sampleTree(pid) {
  const table = processTable();
  const children = new Map();
  for (const [p, info] of table) {
    if (!children.has(info.ppid)) children.set(info.ppid, []);
    children.get(info.ppid).push(p);
  }
  const sum = { workerd: 0, node: 0, workerdProcesses: 0 };
  const stack = [pid];
  while (stack.length > 0) {
    const p = /** @type {number} */ (stack.pop());
    const info = table.get(p);
    if (info) {
      if (info.comm.startsWith("workerd")) {
        sum.workerd += info.rss;
        sum.workerdProcesses++;
      } else sum.node += info.rss;
    }
    stack.push(...(children.get(p) ?? []));
  }
  return sum;
}

const memory = { sampling: existsSync("/proc/self/stat"), intervalMs: 250, peak: { workerd: 0, node: 0, total: 0 }, byPhase: /** @type {Record<string, {workerd: number, node: number}>} */ ({}) };
let phase = "startup";

// ---- run vitest ----

const started = Date.now();
const git = gitInfo(); // the code measured is the code at the start
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const child = spawn(process.execPath, [vitest, "run", "--config", "bench/vitest.config.ts", ...only.map((s) => SUITES[/** @type {keyof typeof SUITES} */ (s)])], {
  cwd: root,
  env: { ...process.env, BENCH_SCALE: scale, BENCH_READ_SIZES: readSizes ?? "", BENCH_OUT: rawPath, CI: "true", WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0" },
  stdio: ["ignore", "pipe", "pipe"],
});
/** @type {string[]} */
const output = [];
const onLine = (/** @type {string} */ line) => {
  output.push(line);
  const marker = /^::bench-phase (.*)$/.exec(line);
  if (marker) {
    phase = marker[1] ?? phase;
    console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${phase}`);
  } else if (verbose) console.log(line);
};
for (const stream of [child.stdout, child.stderr]) {
  let rest = "";
  stream.on("data", (chunk) => {
    const lines = (rest + chunk.toString()).split("\n");
    rest = lines.pop() ?? "";
    lines.forEach(onLine);
  });
}
const sampler = memory.sampling
  ? setInterval(() => {
      const s = sampleTree(/** @type {number} */ (child.pid));
      memory.peak.workerd = Math.max(memory.peak.workerd, s.workerd);
      memory.peak.node = Math.max(memory.peak.node, s.node);
      memory.peak.total = Math.max(memory.peak.total, s.workerd + s.node);
      const p = (memory.byPhase[phase] ??= { workerd: 0, node: 0 });
      p.workerd = Math.max(p.workerd, s.workerd);
      p.node = Math.max(p.node, s.node);
    }, memory.intervalMs)
  : undefined;
const code = await new Promise((resolve) => child.on("close", resolve));
clearInterval(sampler);
const runMs = Date.now() - started;

if (code !== 0 || !existsSync(rawPath)) {
  if (!verbose) console.error(output.slice(-80).join("\n"));
  console.error(`\nbench: vitest exited with ${code}; no results written.`);
  rmSync(rawPath, { force: true });
  process.exit(typeof code === "number" && code !== 0 ? code : 1);
}
const raw = JSON.parse(readFileSync(rawPath, "utf8"));
rmSync(rawPath, { force: true });
if (raw.failed.length > 0) {
  console.error(`bench: failed: ${raw.failed.join(", ")}`);
  process.exit(1);
}
const results = raw.results;

// ---- derive: prices, ratios, per-failure figures ----

/**
 * Billed units of one cost scenario, per million failures.
 * @param {any} s a cost result from bench/suites/2-cost.bench.ts
 */
function costOf(s) {
  const m = s.meter;
  const units = {
    queueOps: s.messages * QUEUE_OPS_PER_MESSAGE,
    workerRequests: s.invocations,
    doRequests: m.recordCalls + m.alarmRuns,
    doRowsWritten: m.sqlTotal.written,
    doRowsRead: m.sqlTotal.read,
    d1RowsWritten: m.d1.rowsWritten,
    d1RowsRead: m.d1.rowsRead,
    r2ClassA: m.r2.classA,
    r2ClassB: m.r2.classB,
    analyticsPoints: m.analytics.points,
  };
  const price = {
    queueOps: PRICES.queueOp,
    workerRequests: PRICES.workerRequest,
    doRequests: PRICES.doRequest,
    doRowsWritten: PRICES.doRowWritten,
    doRowsRead: PRICES.doRowRead,
    d1RowsWritten: PRICES.d1RowWritten,
    d1RowsRead: PRICES.d1RowRead,
    r2ClassA: PRICES.r2ClassA,
    r2ClassB: PRICES.r2ClassB,
    analyticsPoints: PRICES.analyticsPoint,
  };
  const perMillion = /** @type {Record<string, number>} */ ({});
  const dollars = /** @type {Record<string, number>} */ ({});
  let total = 0;
  for (const [unit, count] of Object.entries(units)) {
    perMillion[unit] = (count * 1e6) / s.failures;
    dollars[unit] = perMillion[unit] * price[/** @type {keyof typeof price} */ (unit)];
    total += dollars[unit];
  }
  return {
    measuredOn: s.failures,
    units,
    perMillion,
    dollarsPerMillion: dollars,
    totalPerMillion: total,
    // Queue operations are the same for any consumer of the DLQ: the rest is what the design decides.
    controlledPerMillion: total - (dollars.queueOps ?? 0),
    notPriced: { setAlarmCallsPerMillion: ((m.setAlarmCalls + m.deleteAlarmCalls) * 1e6) / s.failures },
    doRowsWrittenPerFailure: Object.fromEntries(
      Object.entries(m.sqlWrittenBy ?? {}).flatMap(([label, kinds]) => Object.entries(kinds).map(([k, n]) => [`${label}: ${k}`, n / s.failures])),
    ),
    d1RowsWrittenPerFailure: Object.fromEntries(Object.entries(m.d1WrittenBy ?? {}).map(([k, n]) => [k, n / s.failures])),
    consoleFeatures: consoleFeatures(m, s.failures),
    storagePerFailure: {
      ledgerBytes: s.storage.ledgerBytes / s.failures,
      d1Bytes: s.storage.d1Bytes / s.failures,
      r2Bytes: s.storage.r2Bytes / s.failures,
    },
  };
}

/** The issue's budget for scoped tokens, search, series and edit-and-requeue together. */
const CONSOLE_BUDGET = 0.15;

/**
 * What the console features add to each failure's rows written, by table: only the series
 * counters write per failure (search scans, scopes and edits write only when someone acts).
 * @param {any} m @param {number} failures
 */
function consoleFeatures(m, failures) {
  /** @type {Record<string, number>} */
  const byKind = {};
  for (const kinds of Object.values(m.sqlWrittenBy ?? {})) {
    for (const [kind, n] of Object.entries(/** @type {Record<string, number>} */ (kinds))) {
      if (/ series(_\w+)?$/.test(kind)) byKind[kind] = (byKind[kind] ?? 0) + n / failures;
    }
  }
  const perFailure = Object.values(byKind).reduce((a, b) => a + b, 0);
  return { perFailure, byKind, share: perFailure / (m.sqlTotal.written / failures), budget: CONSOLE_BUDGET };
}

/** @type {Record<string, any>} */
const scenarios = {};
for (const rate of [0, 50]) {
  const ours = results[`cost: ours, ${rate}% repeats`];
  const seed = results[`cost: seed, ${rate}% repeats`];
  if (!ours || !seed) continue;
  const o = costOf(ours);
  const s = costOf(seed);
  scenarios[`${rate}%`] = {
    ours: { ...o, timing: ours.timing, flushes: ours.flushes, jobs: ours.jobs },
    seed: { ...s, timing: seed.timing, jobs: seed.jobs },
    ratio: o.totalPerMillion / s.totalPerMillion,
    controlledRatio: o.controlledPerMillion / s.controlledPerMillion,
  };
}

const tp = results["ingest throughput"];
const read = results["read latency vs size"];

/** Each store mechanism on and off (bench/suites/4-mechanisms.bench.ts), priced like a cost scenario. */
const mechanisms = Object.entries(results)
  .filter(([name]) => name.startsWith("mechanism: "))
  .map(([, r]) => {
    const on = costOf(r.on);
    const off = costOf(r.off);
    const rows = (/** @type {any} */ s) => s.meter.sqlTotal.written / s.failures;
    const msPerThousand = (/** @type {any} */ s, /** @type {"ingestMs" | "alarmMs"} */ k) => (s.timing[k] / s.failures) * 1000;
    return {
      mechanism: r.mechanism,
      workload: r.workload,
      failures: r.on.failures,
      ledgerRowsPerFailure: { on: rows(r.on), off: rows(r.off) },
      controlledPerMillion: { on: on.controlledPerMillion, off: off.controlledPerMillion },
      ingestMsPerThousand: { on: msPerThousand(r.on, "ingestMs"), off: msPerThousand(r.off, "ingestMs") },
      alarmMsPerThousand: { on: msPerThousand(r.on, "alarmMs"), off: msPerThousand(r.off, "alarmMs") },
      ledgerBytesPerFailure: { on: r.on.storage.ledgerBytes / r.on.failures, off: r.off.storage.ledgerBytes / r.off.failures },
    };
  });

const summary = {
  scale,
  at: new Date(started).toISOString(),
  runSeconds: Math.round(runMs / 1000),
  machine: { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? "?", memoryGb: Math.round(totalmem() / 2 ** 30) },
  git,
  throughput: tp,
  cost: scenarios,
  read,
  mechanisms,
  memory,
  prices: PRICES,
};
const stamp = summary.at.replace(/[:.]/g, "-");
const outPath = join(resultsDir, `${stamp}-${scale}.json`);
writeFileSync(outPath, JSON.stringify({ ...summary, raw: results }, null, 2));

// ---- print ----

const fmt = (/** @type {number} */ n, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }) : "-");
const money = (/** @type {number} */ n) => (n === 0 ? "0" : n < 0.01 ? n.toFixed(4) : n.toFixed(2));
const mb = (/** @type {number} */ n) => `${fmt(n / 2 ** 20)} MiB`;
/** @param {string[][]} rows */
function table(rows, align = "") {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => "  " + r.map((cell, i) => (align[i] === "l" || (align === "" && i === 0) ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join("   "))
    .join("\n");
}

const lines = [];
lines.push(`dlq-ledger bench (${scale}) · ${summary.at} · ${summary.runSeconds} s · node ${process.version} · ${summary.machine.cpus} cores · ${summary.git}`);
lines.push("");
if (tp) {
  const r = tp.perSecond;
  lines.push(`1. Ingest throughput: one tenant, ${fmt(tp.failures)} failures in batches of 100, median of ${tp.reps.length} runs`);
  lines.push(
    table([
      ["path", "failures/s", "× bare loop"],
      ["DLQ consumer → one ledger RPC per batch", fmt(r.consumer), fmt(r.consumer / r.bareLoop, 2)],
      ["  ledger record() alone, 100 per RPC", fmt(r.recordOnly), fmt(r.recordOnly / r.bareLoop, 2)],
      ["  bare INSERTs, 100 per RPC", fmt(r.barePerBatch), fmt(r.barePerBatch / r.bareLoop, 2)],
      ["bare INSERT loop in a DO (baseline)", fmt(r.bareLoop), "1.00"],
    ]),
  );
  lines.push(
    `  same shape (÷ bare INSERTs, 100 per RPC): record() ${fmt(r.recordOnly / r.barePerBatch, 2)} (target ≥ 0.45) · DLQ consumer → ledger ${fmt(r.consumer / r.barePerBatch, 2)}`,
  );
  lines.push("");
}
for (const [rate, sc] of Object.entries(scenarios)) {
  lines.push(
    `2. Cost per million failures, ${rate} repeats (ours measured on ${fmt(sc.ours.measuredOn)} failures, seed on ${fmt(sc.seed.measuredOn)}; both scaled to 1M)`,
  );
  /** @type {[string, string][]} */
  const unitNames = [
    ["queueOps", "Queue operations (3 per message: modelled)"],
    ["workerRequests", "Worker invocations (batches of 100)"],
    ["doRequests", "DO requests (record RPCs + alarm runs)"],
    ["doRowsWritten", "DO SQLite rows written"],
    ["doRowsRead", "DO SQLite rows read"],
    ["d1RowsWritten", "D1 rows written"],
    ["d1RowsRead", "D1 rows read"],
    ["r2ClassA", "R2 Class A operations"],
    ["analyticsPoints", "Analytics Engine data points"],
  ];
  const rows = [["unit", "ours units", "ours $", "seed units", "seed $"]];
  for (const [key, label] of unitNames) {
    rows.push([label, fmt(sc.ours.perMillion[key]), money(sc.ours.dollarsPerMillion[key]), fmt(sc.seed.perMillion[key]), money(sc.seed.dollarsPerMillion[key])]);
  }
  rows.push(["total $ per million failures", "", money(sc.ours.totalPerMillion), "", money(sc.seed.totalPerMillion)]);
  lines.push(table(rows));
  lines.push(`  ours = ${fmt(sc.ratio, 2)}× the seed's cost · not priced: ${fmt(sc.ours.notPriced.setAlarmCallsPerMillion)} setAlarm/deleteAlarm calls per million (ours)`);
  lines.push(
    `  cost we control (queue operations excluded): ours $${money(sc.ours.controlledPerMillion)} / seed $${money(sc.seed.controlledPerMillion)} per million · ours = ${fmt(sc.controlledRatio, 2)}× the seed's cost`,
  );
  lines.push(
    `  per failure, ours · D1 rows written ${fmt(sc.ours.perMillion.d1RowsWritten / 1e6, 2)} · Analytics Engine points ${fmt(sc.ours.perMillion.analyticsPoints / 1e6, 3)} (seed ${fmt(sc.seed.perMillion.d1RowsWritten / 1e6, 2)} · ${fmt(sc.seed.perMillion.analyticsPoints / 1e6, 3)})`,
  );
  const top = (/** @type {Record<string, number>} */ by) =>
    Object.entries(by)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([k, n]) => `${k} ${fmt(n, 2)}`)
      .join(" · ");
  lines.push(`  rows written per failure, ours · DO: ${top(sc.ours.doRowsWrittenPerFailure)}`);
  lines.push(`                                 · D1: ${top(sc.ours.d1RowsWrittenPerFailure)}`);
  lines.push(`                          seed · D1: ${top(sc.seed.d1RowsWrittenPerFailure)}`);
  const cf = sc.ours.consoleFeatures;
  lines.push(
    `  console features (series counters; search, scopes and edit-and-requeue write nothing per failure): +${fmt(cf.perFailure, 3)} DO rows written per failure (${Object.entries(cf.byKind).filter(([, n]) => /** @type {number} */ (n) >= 0.0005).map(([k, n]) => `${k} ${fmt(/** @type {number} */ (n), 3)}`).join(", ") || "none"}) = ${fmt(cf.share * 100, 1)} % of ours; budget ${cf.budget} → ${cf.perFailure <= cf.budget ? "within" : "OVER"}`,
  );
  lines.push(
    `  time here: ours ${fmt(sc.ours.timing.wallMs / 1000, 1)} s (${fmt((sc.ours.measuredOn / sc.ours.timing.ingestMs) * 1000)} failures/s ingest, ${fmt((sc.ours.measuredOn / Math.max(1, sc.ours.timing.alarmMs)) * 1000)} failures/s flushed by ${fmt(sc.ours.flushes)} alarm flushes) · seed ${fmt(sc.seed.timing.wallMs / 1000, 1)} s (${fmt((sc.seed.measuredOn / sc.seed.timing.wallMs) * 1000)} failures/s)`,
  );
  lines.push("");
}
if (read) {
  lines.push(`3. Read latency vs size, one ledger, ms p50 / p99 (× ping p50); the first ${fmt(read.realPathFailures)} failures through the consumer, the rest copied by SQL`);
  lines.push("  filtered pages: class=SYSTEM_ERROR (about a third); one group, class (UNKNOWN) and status (abandoned) at about 0.1 % once filled by copies (class UNKNOWN also keeps the real path's UNKNOWN rows: about 0.2 % at 100,000); no match");
  const rows = [["failures", "ping (baseline)", "stats()", "page of 50", "class, common", "group, 0.1 %", "class, 0.1 %", "status, 0.1 %", "no match", "ledger bytes/failure"]];
  for (const p of read.points) {
    const l = p.latency;
    const base = l.ping.p50;
    const cell = (/** @type {any} */ x, ratio = true) => `${x.p50} / ${x.p99}${ratio ? ` (${fmt(x.p50 / base, 1)}×)` : ""}`;
    const maybe = (/** @type {any} */ x) => (x ? cell(x) : "-");
    rows.push([
      fmt(p.size),
      cell(l.ping, false),
      cell(l.stats),
      cell(l.page),
      maybe(l.pageClassCommon),
      maybe(l.pageGroupRare),
      maybe(l.pageClassRare),
      maybe(l.pageStatusRare),
      cell(l.pageNoMatch),
      fmt(p.bytesPerFailure),
    ]);
  }
  lines.push(table(rows));
  lines.push("  timer resolution is 1 ms (workerd's clock); samples per cell: " + read.points.map((/** @type {any} */ p) => `${fmt(p.size)}: ${p.latency.stats.n}/${p.latency.pageNoMatch.n}`).join(", "));
  lines.push("");
  lines.push("3b. Search, one page of 50 (at most 2,000 failures looked at per page, then a cursor), ms p50 / p99 (× ping p50)");
  const searchRows = [["failures", "q= in 15 %", "q= in none", "field requestedBy = user-42 (0.1 %)"]];
  for (const p of read.points) {
    const l = p.latency;
    if (!l.searchCommon) continue;
    const cell = (/** @type {any} */ x) => `${x.p50} / ${x.p99} (${fmt(x.p50 / l.ping.p50, 1)}×)`;
    searchRows.push([fmt(p.size), cell(l.searchCommon), cell(l.searchNoMatch), cell(l.searchField)]);
  }
  lines.push(table(searchRows));
  lines.push("");
  const filled = read.points.filter((/** @type {any} */ p) => p.withoutLists);
  if (filled.length > 0) {
    lines.push("3c. The same rare filters with the order lists off (the page walks the time order, 10,000 failures looked at a page): first page ms p50 (× ping p50), and pages / ms to the first 50 matches");
    const rows = [["failures", "group, 0.1 %", "class, 0.1 %", "status, 0.1 %"]];
    for (const p of filled) {
      const l = p.latency;
      const cell = (/** @type {any} */ x, /** @type {any} */ walk) => `${x.p50} (${fmt(x.p50 / l.ping.p50, 1)}×); ${fmt(walk.pages)} pages / ${fmt(walk.ms)} ms`;
      rows.push([fmt(p.size), cell(l.pageGroupRareNoLists, p.withoutLists.group), cell(l.pageClassRareNoLists, p.withoutLists.class), cell(l.pageStatusRareNoLists, p.withoutLists.status)]);
    }
    lines.push(table(rows));
    lines.push("");
  }
}
if (mechanisms.length > 0) {
  lines.push(`5. The store's mechanisms, each off against all on (${fmt(mechanisms[0]?.failures ?? 0)} failures each; rows counted, times in the same run)`);
  const rows = [["mechanism off", "workload", "ledger rows written / failure", "cost we control $/M", "ingest ms / 1,000", "flush ms / 1,000", "ledger bytes / failure"]];
  const pair = (/** @type {{on: number, off: number}} */ x, digits = 2, f = fmt) => `${f(x.on, digits)} → ${f(x.off, digits)}`;
  for (const m of mechanisms) {
    rows.push([
      m.mechanism,
      m.workload,
      pair(m.ledgerRowsPerFailure, 3),
      `${money(m.controlledPerMillion.on)} → ${money(m.controlledPerMillion.off)}`,
      `${pair(m.ingestMsPerThousand, 0)} (${fmt(m.ingestMsPerThousand.off / m.ingestMsPerThousand.on, 2)}×)`,
      `${pair(m.alarmMsPerThousand, 0)} (${fmt(m.alarmMsPerThousand.off / m.alarmMsPerThousand.on, 2)}×)`,
      pair(m.ledgerBytesPerFailure, 0),
    ]);
  }
  lines.push(table(rows, "ll"));
  lines.push("");
}
if (Object.keys(scenarios).length > 0) {
  lines.push("4. Storage per failure (bytes), for sizing retention");
  const rows = [["where", ...Object.keys(scenarios).flatMap((r) => [`ours ${r}`, `seed ${r}`])]];
  for (const [key, label] of /** @type {[string, string][]} */ ([
    ["ledgerBytes", "ledger (DO SQLite, databaseSize)"],
    ["d1Bytes", "D1 (growth of the database file)"],
    ["r2Bytes", "R2 (sum of object sizes)"],
  ])) {
    rows.push([label, ...Object.values(scenarios).flatMap((sc) => [fmt(sc.ours.storagePerFailure[key]), fmt(sc.seed.storagePerFailure[key])])]);
  }
  lines.push(table(rows));
}
if (memory.sampling) {
  const phases = Object.entries(memory.byPhase)
    .map(([p, m]) => `${p} ${mb(m.workerd)}`)
    .join(" · ");
  lines.push(`  peak RSS: workerd ${mb(memory.peak.workerd)}, node (vitest) ${mb(memory.peak.node)}; workerd by phase: ${phases}`);
}
lines.push("");
lines.push(`results: ${outPath.slice(root.length + 1)}`);
console.log(`\n${lines.join("\n")}`);

function gitInfo() {
  const head = spawnSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" });
  if (head.status !== 0) return "no git";
  const dirty = spawnSync("git", ["status", "--porcelain", "--", "src", "migrations", "wrangler.toml"], { cwd: root, encoding: "utf8" });
  return `${head.stdout.trim()}${dirty.stdout.trim() ? " + uncommitted src changes" : ""}`;
}
