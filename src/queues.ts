// One queue handler for every queue this worker consumes, dispatched by queue name. Anything
// that is not the parking queue is treated as a dead-letter queue to ingest.

import { readConfig } from "./config";
import { consumeDeadLetters } from "./ingest/consumer";
import { consumeParking } from "./ingest/parking";

export async function handleQueue(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const { queues } = readConfig(env);
  if (batch.queue === queues.parking) return consumeParking(batch, env, ctx);
  await consumeDeadLetters(batch, env);
}
