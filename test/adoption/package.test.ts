// @dlq-ledger/capture as a user gets it: `npm pack`, then `npm install <tarball>` into a fresh
// worker project outside this repo, type-checked against @cloudflare/workers-types and bundled
// with `wrangler deploy --dry-run`. The project's tools (typescript, wrangler, workers-types)
// are this repo's installed copies, so the test needs no network; the package is the tarball.

import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { root, wrangler } from "../../scripts/dev-stack.mjs";
import { baseEnv } from "../cli/harness";

const packageDir = join(root, "packages", "capture");
const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
let scratch: string;
let project: string;
let tarball: string;
let packed: { name: string; version: string; files: { path: string }[] };

function run(command: string, args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: baseEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code: code ?? 128, out }));
  });
}

async function ok(command: string, args: string[], cwd: string): Promise<string> {
  const { code, out } = await run(command, args, cwd);
  if (code !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${code}):\n${out}`);
  return out;
}

// A user's worker, written from the package README: the three-line usage, a job type, an Env.
const USER_WORKER = `import { withFailureCapture, type SuccessReporter } from "@dlq-ledger/capture";

interface Job { tenantId: string; jobId: string; url: string }
interface Env { DLQ: Queue<unknown>; DLQ_LEDGER: Fetcher & SuccessReporter }

async function runJob(message: Message<Job>): Promise<void> {
  const res = await fetch(message.body.url);
  if (!res.ok) throw Object.assign(new Error(\`fetch failed: \${res.status}\`), { status: res.status });
}

export default {
  queue: withFailureCapture(runJob, { deadLetterQueue: (env) => env.DLQ, maxRetries: 3, reportSuccess: (env) => env.DLQ_LEDGER }),
} satisfies ExportedHandler<Env, Job>;

// The declarations are real types, not \`any\`: a wrong option does not type-check.
// @ts-expect-error maxRetries is a number
withFailureCapture(runJob, { deadLetterQueue: (env: Env) => env.DLQ, maxRetries: "3" });
`;

const WRANGLER_TOML = `name = "adopter-worker"
main = "src/index.ts"
compatibility_date = "2026-04-20"

[[queues.producers]]
binding = "DLQ"
queue = "jobs-dlq"

[[queues.consumers]]
queue = "jobs"
max_retries = 3
dead_letter_queue = "jobs-dlq"

[[services]]
binding = "DLQ_LEDGER"
service = "dlq-ledger"
entrypoint = "DlqLedgerService"
`;

const TSCONFIG = JSON.stringify({
  compilerOptions: {
    target: "es2022",
    lib: ["es2023"],
    module: "es2022",
    moduleResolution: "bundler",
    types: ["@cloudflare/workers-types"],
    strict: true,
    noEmit: true,
  },
  include: ["src"],
});

beforeAll(async () => {
  // dist/ as `npm test` built it (pretest): packing without scripts does not rewrite it while
  // the other projects read it.
  scratch = await mkdtemp(join(tmpdir(), "dlq-adopt-"));
  const out = await ok(process.execPath, [process.env.npm_execpath ?? npmCli(), "pack", "--json", "--ignore-scripts", "--pack-destination", scratch], packageDir);
  packed = (JSON.parse(out.slice(out.indexOf("["))) as (typeof packed)[])[0]!;
  tarball = join(scratch, `dlq-ledger-capture-${packed.version}.tgz`);

  project = join(scratch, "adopter-worker");
  await mkdir(join(project, "src"), { recursive: true });
  await writeFile(join(project, "package.json"), JSON.stringify({ name: "adopter-worker", private: true, type: "module" }));
  await writeFile(join(project, "wrangler.toml"), WRANGLER_TOML);
  await writeFile(join(project, "tsconfig.json"), TSCONFIG);
  await writeFile(join(project, "src", "index.ts"), USER_WORKER);
  await ok(process.execPath, [process.env.npm_execpath ?? npmCli(), "install", "--no-audit", "--no-fund", "--offline", tarball], project);
  // The user's own workers-types (this repo's installed copy, to stay offline).
  await mkdir(join(project, "node_modules", "@cloudflare"), { recursive: true });
  await symlink(join(root, "node_modules", "@cloudflare", "workers-types"), join(project, "node_modules", "@cloudflare", "workers-types"), "dir");
}, 120_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** npm's CLI next to this Node, when the test is not run by npm (then npm_execpath is set). */
function npmCli(): string {
  return join(process.execPath, "..", "..", "lib", "node_modules", "npm", "bin", "npm-cli.js");
}

describe("the packed capture package", () => {
  it("holds the built JavaScript, its declarations, the README and package.json: no sources, no tests", () => {
    expect(packed.name).toBe("@dlq-ledger/capture");
    expect(packed.files.map((f) => f.path).sort()).toEqual(
      ["README.md", "dist/envelope.d.ts", "dist/envelope.js", "dist/index.d.ts", "dist/index.js", "package.json"].sort(),
    );
  });

  it("has a README that opens with the three-line usage", async () => {
    const readme = await readFile(join(packageDir, "README.md"), "utf8");
    const usage = /```ts\n([\s\S]*?)```/.exec(readme)?.[1]?.trim().split("\n") ?? [];
    expect(usage).toHaveLength(3);
    expect(usage[0]).toBe('import { withFailureCapture } from "@dlq-ledger/capture";');
    expect(usage.join("\n")).toMatch(/withFailureCapture\(.+deadLetterQueue: \(env\) => env\.DLQ/);
  });

  it("installs from the tarball, with no dependencies, and exports types and JavaScript", async () => {
    const installed = join(project, "node_modules", "@dlq-ledger", "capture");
    const manifest = JSON.parse(await readFile(join(installed, "package.json"), "utf8"));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.exports).toEqual({ ".": { types: "./dist/index.d.ts", default: "./dist/index.js" } });
    // A real copy from the tarball, not a link into this repo.
    expect(relative(root, installed).startsWith("..")).toBe(true);
    expect((await readdir(join(project, "node_modules", "@dlq-ledger"), { withFileTypes: true }))[0]?.isSymbolicLink()).toBe(false);
    // No test seam ships: nothing of the service's fault injection.
    for (const file of ["index.js", "envelope.js"]) expect(await readFile(join(installed, "dist", file), "utf8")).not.toMatch(/faultPoint|armFault|faults/);
  });

  it("type-checks in a fresh worker project outside the repo", async () => {
    const { code, out } = await run(process.execPath, [tsc, "-p", project], project);
    expect(out).toBe("");
    expect(code).toBe(0);
  });

  it("bundles with wrangler deploy --dry-run", async () => {
    const outdir = join(scratch, "bundle");
    await ok(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", outdir], project);
    const bundle = await readFile(join(outdir, "index.js"), "utf8");
    // Bundled from the installed package, not from this repo's sources.
    expect(bundle).toContain("// node_modules/@dlq-ledger/capture/dist/index.js");
    expect(bundle).toContain("function withFailureCapture(");
    expect(bundle).not.toMatch(/faultPoint|armFault/);
  });
});
