import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import type { FailureEnvelope } from "../../src/capture/envelope";
import { recordRetries } from "./queue";

let ids = 0;
export function message(body: unknown, id = `msg-${++ids}`): ServiceBindingQueueMessage<unknown> {
  return { id, timestamp: new Date(), attempts: 1, body };
}

export function envelope(tenantId: string, jobId: string, overrides: Partial<FailureEnvelope> = {}): FailureEnvelope {
  const at = new Date().toISOString();
  return {
    v: 1,
    tenantId,
    jobId,
    userId: "u-1",
    queue: "jobs",
    body: { tenantId, jobId, payload: "x" },
    error: { name: "Error", message: "upstream timed out", status: 503 },
    attempts: 4,
    firstFailedAt: at,
    lastFailedAt: at,
    ...overrides,
  };
}

/** Runs the worker's queue handler on a batch; also reports each retry's requested delay. */
export async function deliver(messages: ServiceBindingQueueMessage<unknown>[], queue = "jobs-dlq", environment: Env = env) {
  const batch = createMessageBatch(queue, messages);
  const retries = recordRetries(batch);
  const ctx = createExecutionContext();
  await worker.queue(batch, environment, ctx);
  const delays = new Map([...retries].map(([id, calls]) => [id, calls[calls.length - 1]?.delaySeconds]));
  return { ...(await getQueueResult(batch, ctx)), delays };
}
