import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** The second local D1 database tenants spread over (D1_SHARDS in vitest.config.ts). */
      DB_2: D1Database;
      /** A D1 database the setup leaves empty, for tests of a migration on data the previous schema held. */
      MIGRATION_DB: D1Database;
      /** Producer for the "recovery-test" origin queue, consumed by test/fixtures/receiver.js. */
      RECOVERY_ORIGIN: Queue;
      /**
       * The receiver worker (test/fixtures/receiver.js): GET /received lists what reached the
       * "recovery-test" origin queue, GET /requests the webhooks the worker sent.
       */
      RECEIVER: Fetcher;
    }
  }
  /** Used by createMessageBatch() but only declared in the experimental workers types. */
  type ServiceBindingQueueMessage<Body = unknown> = {
    id: string;
    timestamp: Date;
    attempts: number;
  } & ({ body: Body } | { serializedBody: ArrayBuffer | ArrayBufferView });
}

declare module "vitest" {
  export interface ProvidedContext {
    chaos: { seeds: number[]; jobs: number; tenants: number; timeoutMs: number };
    model: { runs: number; seed: number; path?: string; replayPath?: string; maxCommands: number; timeoutMs: number };
  }
}
