// Builds the operator console into build/assets/console/: the TypeScript app bundled by esbuild
// (Preact included, nothing fetched at run time), the page, its stylesheet, and a _headers file
// with the security headers the worker also sets on the deep links it serves.
// Run by `npm start`, `npm test`, `wrangler dev` / `wrangler deploy` ([build] in wrangler.toml).
//
// Several `wrangler dev` sessions (the Node-side tests) may run it while others serve the files:
// it does nothing when its inputs have not changed, and replaces each file by a rename, so a
// served file is never missing or half written.

import { build } from "esbuild";
import { createHash } from "node:crypto";
import { mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const assets = join(root, "build", "assets");
const out = join(assets, "console");
const stamp = join(root, "build", "console-inputs.sha256");

/** @param {string} dir @returns {Promise<string[]>} */
async function files(dir) {
  const entries = await readdir(dir, { withFileTypes: true });
  const nested = await Promise.all(entries.map((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)])));
  return nested.flat().sort();
}

const inputs = [...(await files(here)), join(root, "package-lock.json")];
const hash = createHash("sha256");
for (const file of inputs) hash.update(relative(root, file)).update("\0").update(await readFile(file));
const digest = hash.digest("hex");
if ((await readFile(stamp, "utf8").catch(() => "")) === digest) process.exit(0);

const bundle = await build({
  entryPoints: [join(here, "src", "main.tsx")],
  outfile: join(out, "app.js"),
  bundle: true,
  write: false,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "linked",
  logLevel: "warning",
  tsconfig: join(here, "tsconfig.json"),
});

const headers = JSON.parse(await readFile(join(here, "security-headers.json"), "utf8"));
const rules = Object.entries(headers)
  .map(([name, value]) => `  ${name}: ${value}`)
  .join("\n");

/** @type {[string, string | Uint8Array][]} */
const outputs = [
  ...bundle.outputFiles.map((f) => /** @type {[string, Uint8Array]} */ ([f.path, f.contents])),
  [join(out, "index.html"), await readFile(join(here, "index.html"), "utf8")],
  [join(out, "styles.css"), await readFile(join(here, "styles.css"), "utf8")],
  [join(assets, "_headers"), `/console/*\n${rules}\n`],
  [stamp, digest],
];
await mkdir(out, { recursive: true });
for (const [path, contents] of outputs) {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, contents);
  await rename(temp, path);
}
