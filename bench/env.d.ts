import type { D1Migration } from "cloudflare:test";

// Bench-only bindings, added by bench/vitest.config.ts on top of wrangler.toml's.
declare global {
  namespace Cloudflare {
    interface Env {
      BENCH_MIGRATIONS: D1Migration[];
      /** The seed's D1 schema, frozen in bench/seed-schema/ (bench/vitest.config.ts). */
      SEED_MIGRATIONS: D1Migration[];
      /** "full" or "quick" (npm run bench -- --quick) */
      BENCH_SCALE: string;
      /** Comma-separated failure counts for the read suite (run.mjs --read-sizes); empty: the scale's. */
      BENCH_READ_SIZES: string;
      /** The seed's design writes here, apart from ours, so each side's storage can be measured. */
      SEED_DB: D1Database;
      SEED_ARCHIVE: R2Bucket;
      SEED_EVENTS: AnalyticsEngineDataset;
      BARE_INSERTS: DurableObjectNamespace<import("./worker").BareInserts>;
    }
  }
  type ServiceBindingQueueMessage<Body = unknown> = {
    id: string;
    timestamp: Date;
    attempts: number;
  } & ({ body: Body } | { serializedBody: ArrayBuffer | ArrayBufferView });
}

declare module "@vitest/runner" {
  interface TaskMeta {
    /** A bench's figures, carried to bench/reporter.ts. */
    bench?: unknown;
  }
}
