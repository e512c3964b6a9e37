// Builds the operator console into build/assets/console/: the TypeScript app bundled by esbuild
// (Preact included, nothing fetched at run time), the page, its stylesheet, and a _headers file
// with the security headers the worker also sets on the deep links it serves.
// Run by `npm start`, `npm test`, `wrangler dev` / `wrangler deploy` ([build] in wrangler.toml).

import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = dirname(here);
const assets = join(root, "build", "assets");
const out = join(assets, "console");

const headers = JSON.parse(await readFile(join(here, "security-headers.json"), "utf8"));

await rm(assets, { recursive: true, force: true });
await mkdir(out, { recursive: true });
await build({
  entryPoints: [join(here, "src", "main.tsx")],
  outfile: join(out, "app.js"),
  bundle: true,
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
await copyFile(join(here, "index.html"), join(out, "index.html"));
await copyFile(join(here, "styles.css"), join(out, "styles.css"));
const rules = Object.entries(headers).map(([name, value]) => `  ${name}: ${value}`).join("\n");
await writeFile(join(assets, "_headers"), `/console/*\n${rules}\n`);
