// `npm run types:check`: fails when the committed worker-configuration.d.ts is not what
// `npm run types` would generate now (wrangler.toml or the entry's exports changed since).
//
// It regenerates with the exact command of the "types" script into a sibling file and compares
// the two. Sibling, not a temp dir: the output embeds import paths relative to its own location
// (`import("./src/index")`). `wrangler types --check` is not used because it compares only the
// hash in the header, so a hand-edited body would pass.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const committedName = "worker-configuration.d.ts";
const committedPath = join(root, committedName);
const wrangler = join(root, "node_modules", "wrangler", "bin", "wrangler.js");

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  console.error(`types:check: ${message}`);
  process.exit(1);
}

/** @type {{ scripts?: Record<string, string> }} */
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const typesScript = pkg.scripts?.types ?? "";
const [bin, command, ...flags] = typesScript.trim().split(/\s+/);
if (bin !== "wrangler" || command !== "types") fail(`expected the "types" script to be \`wrangler types ...\`, found ${JSON.stringify(typesScript)}`);
if (!existsSync(wrangler)) fail("wrangler is not installed here: run `npm ci` first.");
if (!existsSync(committedPath)) fail(`${committedName} is missing: run npm run types`);

const tempName = `.worker-configuration.check-${process.pid}.d.ts`;
const tempPath = join(root, tempName);
const result = spawnSync(process.execPath, [wrangler, "types", ...flags, tempName], {
  cwd: root,
  stdio: ["ignore", "pipe", "pipe"],
  encoding: "utf8",
});
let generated = existsSync(tempPath) ? readFileSync(tempPath, "utf8") : undefined;
rmSync(tempPath, { force: true }); // before any exit: process.exit() skips finally blocks
if (result.error) fail(`could not run wrangler: ${result.error.message}`);
if (result.status !== 0 || generated === undefined) {
  process.stderr.write(result.stdout + result.stderr);
  fail(`\`wrangler types\` failed (exit ${result.status ?? result.signal}); see its output above.`);
}

// The header records the command line, which here has the extra output path: put back the one
// `npm run types` writes. Nothing else is normalised except a trailing newline.
const ranAs = `wrangler types ${[...flags, tempName].join(" ")}`;
const expectedAs = `wrangler types ${flags.join(" ")}`.trimEnd();
if (!generated.includes(`\`${ranAs}\``)) fail(`the generated header does not record \`${ranAs}\`; has wrangler's header format changed?`);
generated = generated.replace(`\`${ranAs}\``, `\`${expectedAs}\``);

const committed = readFileSync(committedPath, "utf8");
const trimNewline = (/** @type {string} */ text) => text.replace(/\r?\n$/, "");
if (trimNewline(committed) !== trimNewline(generated)) {
  const committedLines = trimNewline(committed).split("\n");
  const generatedLines = trimNewline(generated).split("\n");
  const removed = committedLines.filter((line) => !generatedLines.includes(line)).map((line) => `  - ${line}`);
  const added = generatedLines.filter((line) => !committedLines.includes(line)).map((line) => `  + ${line}`);
  const changes = [...removed, ...added];
  console.error(`${committedName} is stale: run npm run types`);
  if (changes.length > 0) console.error(`lines that would change (- committed, + generated):\n${changes.slice(0, 30).join("\n")}`);
  if (changes.length > 30) console.error(`  ... and ${changes.length - 30} more`);
  if (changes.length === 0) console.error("  (same lines, different order or blank lines)");
  process.exit(1);
}
console.log(`${committedName} is up to date.`);
