import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** Producer for the "recovery-test" origin queue, consumed by test/fixtures/receiver.js. */
      RECOVERY_ORIGIN: Queue;
      /** The receiver worker: GET /received lists what reached the "recovery-test" origin queue. */
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
