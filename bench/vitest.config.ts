// `npm run bench` (through bench/run.mjs): the benchmarks run in workerd like the tests, but with
// their own entry (bench/worker.ts: the real worker plus bench-only classes) and bindings.

import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import type { TestSpecification } from "vitest/node";
import { defineConfig } from "vitest/config";

/** The suites run in file-name order (1-throughput, 2-cost, 3-read), not by vitest's timing cache. */
class ByName {
  async shard(files: TestSpecification[]) {
    return files;
  }
  async sort(files: TestSpecification[]) {
    return [...files].sort((a, b) => a.moduleId.localeCompare(b.moduleId));
  }
}

export default defineConfig(async () => {
  const migrations = await readD1Migrations("./migrations");
  // The seed's D1 keeps the schema its baseline was measured on (the 0001 tables with the indexes
  // they had through 0010), frozen in bench/seed-schema/: our migrations move on, the seed's does not.
  const seedMigrations = await readD1Migrations("./bench/seed-schema");
  return {
    plugins: [
      cloudflareTest({
        main: "./bench/worker.ts",
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            BENCH_MIGRATIONS: migrations,
            SEED_MIGRATIONS: seedMigrations,
            BENCH_SCALE: process.env.BENCH_SCALE === "quick" ? "quick" : "full",
            BENCH_READ_SIZES: process.env.BENCH_READ_SIZES ?? "",
            // Automatic recovery off, like the seed: a RECOVERABLE failure waits in the recovery
            // queue. Ops and user webhooks unconfigured: nothing is fetched (see outboundService).
            ORIGIN_QUEUES: "{}",
            OPS_SLACK_WEBHOOK_URL: "",
            OPS_PAGERDUTY_ROUTING_KEY: "",
            USER_NOTIFY_WEBHOOK_URL: "",
          },
          durableObjects: {
            FAILURE_LEDGER: { className: "MeteredLedger", useSQLite: true },
            BARE_INSERTS: { className: "BareInserts", useSQLite: true },
          },
          d1Databases: { SEED_DB: "bench-seed-db" },
          r2Buckets: { SEED_ARCHIVE: "bench-seed-archive" },
          analyticsEngineDatasets: { SEED_EVENTS: { dataset: "bench_seed_failures" } },
          // Runs in Node, so it is also the bench's prompt channel out of workerd: a suite announces
          // each phase (bench/harness.ts phase()) and run.mjs sees it at once, to label memory
          // samples. Any other outbound fetch would be a bench bug (a webhook configured by
          // accident): refused loudly.
          outboundService: async (request: Request) => {
            if (new URL(request.url).hostname === "bench.phase") {
              process.stdout.write(`::bench-phase ${await request.text()}\n`);
              return new Response("ok");
            }
            console.error(`bench: unexpected outbound fetch to ${request.url}`);
            return new Response("the bench makes no outbound requests", { status: 599 });
          },
        },
      }),
    ],
    test: {
      include: ["bench/suites/*.bench.ts"],
      setupFiles: ["./bench/setup.ts"],
      // One file at a time: timings must not share the two cores with another suite.
      fileParallelism: false,
      sequence: { shuffle: false, sequencer: ByName },
      testTimeout: 900_000,
      hookTimeout: 900_000,
      reporters: ["default", "./bench/reporter.ts"],
    },
  };
});
