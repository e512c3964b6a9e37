// `npm run chaos [-- --jobs 400 --tenants 10 --seeds 1,2,3]`: the chaos run at a size worth
// running by hand. Each seed is a workload through the real path with faults injected at every
// named point; the checker reports lost, duplicated, unexpected, recovered, parked and evicted
// counts per seed with its run time, and how often each fault point was armed and fired. Exits
// non-zero on any loss, duplicate or surprise.

import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "400" },
    tenants: { type: "string", default: "10" },
    seeds: { type: "string", default: "1,2,3" },
    // Seeds run side by side, each in its own vitest (and workerd): for big runs on several cores.
    parallel: { type: "boolean", default: false },
  },
});
for (const [name, value] of Object.entries(values)) {
  if (name === "parallel") continue;
  if (!/^\d+(,\d+)*$/.test(String(value))) {
    console.error(`npm run chaos: --${name} must be a number${name === "seeds" ? " or a comma-separated list" : ""}, not ${value}`);
    process.exit(2);
  }
}

const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const seedGroups = values.parallel ? String(values.seeds).split(",") : [String(values.seeds)];
const children = seedGroups.map((seeds) =>
  spawn(process.execPath, [vitest, "run", "test/chaos/chaos.test.ts"], {
    cwd: root,
    env: { ...process.env, CHAOS_JOBS: values.jobs, CHAOS_TENANTS: values.tenants, CHAOS_SEEDS: seeds, CHAOS_TIMEOUT_MS: String(60 * 60_000) },
    stdio: ["ignore", "pipe", "inherit"],
  }),
);

/** @type {{ seed: number, jobs: number, occurrences: number, lost: number, duplicated: number, unexpected: number, recovered: number, parked: number, evicted: number, faults: Record<string, number>, fired: Record<string, number>, ms: number }[]} */
const reports = [];
const started = Date.now();
for (const child of children) {
  let buffer = "";
  child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  buffer += chunk.toString();
  let newline;
  while ((newline = buffer.indexOf("\n")) >= 0) {
    const line = buffer.slice(0, newline);
    buffer = buffer.slice(newline + 1);
    const at = line.indexOf("chaos {");
    if (at >= 0) reports.push(JSON.parse(line.slice(at + "chaos ".length)));
  }
  });
}

/** @param {string[]} header @param {(string | number)[][]} rows */
const table = (header, rows) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  for (const row of [header, ...rows]) console.log(row.map((v, i) => (i === 0 ? String(v).padEnd(widths[i] ?? 0) : String(v).padStart(widths[i] ?? 0))).join("  "));
};

const codes = await Promise.all(children.map((child) => new Promise((resolve) => child.on("exit", (code) => resolve(code ?? 1)))));
{
  reports.sort((a, b) => a.seed - b.seed);
  if (reports.length > 0) {
    const sum = (/** @type {number[]} */ values) => values.reduce((a, b) => a + b, 0);
    console.log(`\n${reports.length} seed(s), ${Math.round((Date.now() - started) / 1000)} s in all\n`);
    table(
      ["seed", "jobs", "occurrences", "lost", "duplicated", "unexpected", "recovered", "parked", "evicted", "faults fired", "time (s)"],
      reports.map((r) => [r.seed, r.jobs, r.occurrences, r.lost, r.duplicated, r.unexpected, r.recovered, r.parked, r.evicted, sum(Object.values(r.fired)), Math.round(r.ms / 1000)]),
    );
    const points = [...new Set(reports.flatMap((r) => [...Object.keys(r.faults), ...Object.keys(r.fired)]))].sort();
    console.log("");
    table(
      ["fault point", "armed", "fired", ...reports.map((r) => `fired, seed ${r.seed}`)],
      points.map((p) => [p, sum(reports.map((r) => r.faults[p] ?? 0)), sum(reports.map((r) => r.fired[p] ?? 0)), ...reports.map((r) => r.fired[p] ?? 0)]),
    );
  }
  process.exit(Math.max(0, ...codes.map(Number)));
}
