// Runs the real stack for the Node-side tests, as `npm start` does: `wrangler d1 migrations
// apply --local`, then dlq-ledger and the example worker in one `wrangler dev` session
// (scripts/dev-stack.mjs), as child processes on free loopback ports, with their own persistence
// directory; and runs `node bin/dlq.mjs` against it, as a person would.

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { devArgs, devConfigFor, root, wrangler } from "../../scripts/dev-stack.mjs";

const dlqBin = join(root, "bin", "dlq.mjs");

/** Children get this environment and nothing of the developer's (no DLQ_URL, no CLOUDFLARE_*). */
export function baseEnv(): NodeJS.ProcessEnv {
  // CLOUDFLARE_CF_FETCH_ENABLED=false: miniflare would fetch Request.cf data from the internet at
  // start; offline that failed lookup has once ended `wrangler dev` before it served.
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    NO_COLOR: "1",
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function collect(child: ChildProcess): { text: () => string } {
  let text = "";
  child.stdout?.on("data", (d: Buffer) => (text += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (text += d.toString()));
  return { text: () => text };
}

function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode ?? 128);
    else child.once("exit", (code) => resolve(code ?? 128));
  });
}

export interface RunningWorker {
  url: string;
  /** Milliseconds from spawning wrangler to the first healthy answer (migrations included). */
  startupMs: number;
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts the worker locally. `migrate` applies the D1 migrations to its fresh persistence
 * directory first, exactly as `npm start` does.
 */
export async function startWorker(options: { vars: Record<string, string>; migrate: boolean; deadlineMs?: number }): Promise<RunningWorker> {
  const started = Date.now();
  const deadline = started + (options.deadlineMs ?? 120_000);
  const persist = await mkdtemp(join(tmpdir(), "dlq-cli-"));
  if (options.migrate) {
    const migrate = spawn(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
      cwd: root,
      env: baseEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out = collect(migrate);
    const code = await exited(migrate);
    if (code !== 0) throw new Error(`wrangler d1 migrations apply failed (exit ${code}):\n${out.text()}`);
  }
  const [port, inspector] = [await freePort(), await freePort()];
  const child = spawn(
    process.execPath,
    [wrangler, ...devArgs({ port, inspectorPort: inspector, persistTo: persist, vars: options.vars }), "--show-interactive-dev-session=false"],
    // Its own process group: stop() ends wrangler and the workerd it started, and nothing else.
    { cwd: root, env: baseEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  const out = collect(child);
  const url = `http://127.0.0.1:${port}`;

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const gone = await Promise.race([exited(child).then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!gone) {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await rm(persist, { recursive: true, force: true });
    await rm(join(root, devConfigFor(port)), { force: true });
  };

  for (;;) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}) before it answered:\n${out.text()}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not answer on ${url} in time:\n${out.text()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, startupMs: Date.now() - started, log: out.text, stop };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `node bin/dlq.mjs …` with exactly `env` (plus PATH). */
export async function dlq(args: string[], env: Record<string, string>): Promise<CliResult> {
  const child = spawn(process.execPath, [dlqBin, ...args], { cwd: root, env: { PATH: process.env.PATH, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  // "close", not "exit": every byte of its output has been read by then.
  const code = await new Promise<number>((resolve) => child.once("close", (c) => resolve(c ?? 128)));
  return { code, stdout, stderr };
}
