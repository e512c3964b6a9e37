import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import worker from "../../src/index";
import type { FailureEnvelope, FailureEnvelopeV1 } from "@dlq-ledger/capture";
import { recordRetries } from "./queue";

let ids = 0;
export function message(body: unknown, id = `msg-${++ids}`): ServiceBindingQueueMessage<unknown> {
  return { id, timestamp: new Date(), attempts: 1, body };
}

/** An envelope of the current version, as the capture helper sends it. */
export function envelope(tenantId: string, jobId: string, overrides: Partial<FailureEnvelope> = {}): FailureEnvelope {
  const at = new Date().toISOString();
  return {
    v: 2,
    tenantId,
    jobId,
    userId: "u-1",
    queue: "jobs",
    body: { tenantId, jobId, payload: "x" },
    error: { name: "Error", message: "upstream timed out", status: 503 },
    attempts: 4,
    enqueuedAt: at,
    lastFailedAt: at,
    ...overrides,
  };
}

/** An envelope of the previous version, as helpers before 0.2 send it. */
export function envelopeV1(tenantId: string, jobId: string, overrides: Partial<FailureEnvelopeV1> = {}): FailureEnvelopeV1 {
  const { v: _v, enqueuedAt, ...rest } = envelope(tenantId, jobId);
  return { ...rest, v: 1, firstFailedAt: enqueuedAt, ...overrides };
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
