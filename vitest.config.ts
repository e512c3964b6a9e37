import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { configDefaults, defineConfig } from "vitest/config";

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  return {
    test: {
      projects: [
        {
          plugins: [
            cloudflareTest({
              main: "./src/index.ts",
              wrangler: { configPath: "./wrangler.toml" },
              miniflare: {
                bindings: {
                  DEV_ROUTES: "true",
                  // Flushes wait an hour, so that tests drive them with runDurableObjectAlarm, deterministically.
                  FLUSH_DELAY_SECONDS: "3600",
                  // Only the "recovery-test" queue is retried automatically, into a receiver that counts
                  // what arrives; every other failure stays open unless a test asks for more.
                  ORIGIN_QUEUES: JSON.stringify({ "recovery-test": "RECOVERY_ORIGIN" }),
                  RECOVERY_BASE_SECONDS: "3600",
                  RETRY_SEAL_KEY: "test-seal-key",
                  ADMIN_TOKEN: "test-admin-token",
                  TEST_MIGRATIONS: migrations,
                  // Tenants spread over two local D1 databases (DB, the primary, and DB_2).
                  D1_SHARDS: "DB,DB_2",
                },
                // MIGRATION_DB gets no migrations up front: test/sinks/d1-migration.test.ts applies them in steps.
                d1Databases: { DB_2: "dlq-ledger-shard-2", MIGRATION_DB: "dlq-ledger-migration-test" },
                queueProducers: { RECOVERY_ORIGIN: { queueName: "recovery-origin" } },
                // JOBS_WORKER (bound by `npm start` to the example worker) reaches the receiver here: the
                // forwarding of /dev/jobs is tested in this pool, the example worker itself end to end.
                serviceBindings: { RECEIVER: "receiver", JOBS_WORKER: "receiver" },
                // Every outbound fetch (webhooks) reaches the receiver, a real handler that records it.
                outboundService: "receiver",
                workers: [
                  {
                    name: "receiver",
                    modules: true,
                    scriptPath: "./test/fixtures/receiver.js",
                    compatibilityDate: "2026-04-20",
                    queueConsumers: { "recovery-origin": { maxBatchTimeout: 0.05 } },
                  },
                ],
              },
            }),
          ],
          test: {
            // The chaos run's size: small and fixed in `npm test`, set by `npm run chaos` (CHAOS_* env).
            provide: {
              chaos: {
                seeds: (process.env.CHAOS_SEEDS ?? "7").split(",").map(Number),
                jobs: Number(process.env.CHAOS_JOBS ?? 60),
                tenants: Number(process.env.CHAOS_TENANTS ?? 4),
                timeoutMs: Number(process.env.CHAOS_TIMEOUT_MS ?? 120_000),
              },
              // The model-based test's size: short and seeded in `npm test`, set by `npm run model` (MODEL_* env).
              model: {
                runs: Number(process.env.MODEL_RUNS ?? 60),
                seed: Number(process.env.MODEL_SEED ?? 1),
                path: process.env.MODEL_PATH || undefined,
                replayPath: process.env.MODEL_REPLAY_PATH || undefined,
                maxCommands: Number(process.env.MODEL_MAX_COMMANDS ?? 40),
                timeoutMs: Number(process.env.MODEL_TIMEOUT_MS ?? 120_000),
              },
            },
            name: "workers",
            include: ["test/**/*.test.ts"],
            // Node-side tests (the CLI against `wrangler dev`) run in the project below.
            exclude: [...configDefaults.exclude, "test/cli/**", "test/console/**", "test/adoption/**", "test/example/**"],
            setupFiles: ["./test/apply-migrations.ts"],
          },
        },
        {
          // The `dlq` CLI end to end: Node runs the CLI as a child process against the worker
          // started by `wrangler dev` (test/cli/harness.ts), over HTTP on loopback.
          test: {
            name: "cli",
            environment: "node",
            include: ["test/cli/**/*.test.ts"],
            testTimeout: 60_000,
            hookTimeout: 240_000,
          },
        },
        {
          // The example worker (a user's worker) on its own, in workerd: its producer route and its
          // consumer through the packaged capture helper. dlq-ledger's side of the service binding
          // and the dead-letter queue is test/fixtures/ledger-service.js.
          plugins: [
            cloudflareTest({
              main: "./examples/jobs-worker/src/index.ts",
              wrangler: { configPath: "./examples/jobs-worker/wrangler.toml" },
              miniflare: {
                serviceBindings: { LEDGER: "dlq-ledger" },
                workers: [
                  {
                    name: "dlq-ledger",
                    modules: true,
                    scriptPath: "./test/fixtures/ledger-service.js",
                    compatibilityDate: "2026-04-20",
                    queueConsumers: { "jobs-dlq": { maxBatchTimeout: 0.05 } },
                  },
                ],
              },
            }),
          ],
          test: { name: "example", include: ["test/example/**/*.test.ts"] },
        },
        {
          // Adoption as a user would: the packed capture package installed into a worker project
          // outside this repo, type-checked and bundled; and both workers (dlq-ledger and
          // examples/jobs-worker) end to end under one `wrangler dev`, over HTTP.
          test: {
            name: "adoption",
            environment: "node",
            include: ["test/adoption/**/*.test.ts"],
            testTimeout: 120_000,
            hookTimeout: 240_000,
          },
        },
        {
          // The operator console in a real headless Chromium against `wrangler dev`.
          test: {
            name: "console",
            environment: "node",
            include: ["test/console/**/*.test.ts"],
            testTimeout: 60_000,
            hookTimeout: 240_000,
          },
        },
      ],
    },
  };
});
