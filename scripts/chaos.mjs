// `npm run chaos [-- --jobs 400 --tenants 10 --seeds 1,2,3]`: the chaos run at a size worth
// running by hand. Each seed is a workload through the real path with faults injected at every
// named point; the checker reports lost, duplicated, unexpected and recovered counts. Exits
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
  },
});
for (const [name, value] of Object.entries(values)) {
  if (!/^\d+(,\d+)*$/.test(String(value))) {
    console.error(`npm run chaos: --${name} must be a number${name === "seeds" ? " or a comma-separated list" : ""}, not ${value}`);
    process.exit(2);
  }
}

const env = {
  ...process.env,
  CHAOS_JOBS: values.jobs,
  CHAOS_TENANTS: values.tenants,
  CHAOS_SEEDS: values.seeds,
  CHAOS_TIMEOUT_MS: String(20 * 60_000),
};
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const child = spawn(process.execPath, [vitest, "run", "test/chaos"], { cwd: root, env, stdio: ["ignore", "pipe", "inherit"] });

/** @type {{ seed: number, jobs: number, occurrences: number, lost: number, duplicated: number, unexpected: number, recovered: number, parked: number, faults: Record<string, number> }[]} */
const reports = [];
const WIDTHS = [4, 5, 12, 5, 11, 11, 10, 7, 16];
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

child.on("exit", (code) => {
  if (reports.length > 0) {
    console.log("\nseed  jobs  occurrences  lost  duplicated  unexpected  recovered  parked  faults injected");
    for (const r of reports) {
      const faults = Object.values(r.faults).reduce((a, b) => a + b, 0);
      console.log(
        [r.seed, r.jobs, r.occurrences, r.lost, r.duplicated, r.unexpected, r.recovered, r.parked, faults]
          .map((v, i) => String(v).padStart(WIDTHS[i] ?? 0))
          .join(" "),
      );
    }
  }
  process.exit(code ?? 1);
});
