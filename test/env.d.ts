import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
    }
  }
  /** Used by createMessageBatch() but only declared in the experimental workers types. */
  type ServiceBindingQueueMessage<Body = unknown> = {
    id: string;
    timestamp: Date;
    attempts: number;
  } & ({ body: Body } | { serializedBody: ArrayBuffer | ArrayBufferView });
}
