// `npm run model [-- --runs 2000 --seed 7 --max-commands 40]`: the model-based test of the ledger
// (test/model) at a size worth running by hand. Random command sequences run against a plain model
// and a real ledger in workerd; on a failure fast-check prints the seed, the path and the shortest
// sequence found. Replay one with `npm run model -- --seed S --path P [--replay-path R]` (the
// counterexample's /*replayPath="R"*/ comment gives R).

import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "1000" },
    seed: { type: "string", default: String(Date.now() % 2 ** 31) },
    "max-commands": { type: "string", default: "40" },
    path: { type: "string" },
    "replay-path": { type: "string" },
  },
});
for (const name of /** @type {const} */ (["runs", "seed", "max-commands"])) {
  if (!/^-?\d+$/.test(String(values[name]))) {
    console.error(`npm run model: --${name} must be a whole number, not ${values[name]}`);
    process.exit(2);
  }
}

const runs = Number(values.runs);
const vitest = join(root, "node_modules", "vitest", "vitest.mjs");
const child = spawn(process.execPath, [vitest, "run", "--project", "workers", "test/model/ledger.model.test.ts"], {
  cwd: root,
  env: {
    ...process.env,
    MODEL_RUNS: String(runs),
    MODEL_SEED: String(values.seed),
    MODEL_MAX_COMMANDS: String(values["max-commands"]),
    MODEL_PATH: values.path ?? "",
    MODEL_REPLAY_PATH: values["replay-path"] ?? "",
    // about a second a sequence on two cores, with room to spare
    MODEL_TIMEOUT_MS: String(60_000 + runs * 3_000),
  },
  stdio: "inherit",
});
child.on("exit", (code) => process.exit(code ?? 1));
