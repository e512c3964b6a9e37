// Sending jobs back to their origin queues: the original body, unchanged (opened from its seal
// when redaction changed the stored copy), through the producer binding ORIGIN_QUEUES names.

import type { RecoveryConfig } from "../../config";
import { faultPoint } from "../../faults";
import { unseal } from "../../ingest/seal";
import { producerFor } from "./policy";

export interface Outgoing {
  jobId: string;
  queue: string;
  body: string;
  bodyEncoding: "json" | "base64";
  sealedBody: string | null;
  delaySeconds?: number;
}

/** sendBatch takes at most 100 messages and 256 KB. */
const BATCH_MESSAGES = 100;
const BATCH_BYTES = 200 * 1024;

async function original(env: Env, item: Outgoing): Promise<MessageSendRequest> {
  const text = item.sealedBody ? await unseal(env.RETRY_SEAL_KEY ?? "", item.sealedBody) : item.body;
  const delay = item.delaySeconds ? { delaySeconds: item.delaySeconds } : {};
  if (item.bodyEncoding === "json") return { body: JSON.parse(text) as unknown, contentType: "json", ...delay };
  return { body: Uint8Array.from(atob(text), (c) => c.charCodeAt(0)), contentType: "bytes", ...delay };
}

/** Sends every item it can; returns the error for each item that was not sent (none: all sent). */
export async function sendToOrigins(env: Env, config: RecoveryConfig, items: readonly Outgoing[]): Promise<Map<string, string>> {
  const errors = new Map<string, string>();
  const byQueue = new Map<string, Outgoing[]>();
  for (const item of items) byQueue.set(item.queue, [...(byQueue.get(item.queue) ?? []), item]);

  await Promise.all(
    [...byQueue].map(async ([queue, queued]) => {
      const producer = producerFor(env, config, queue);
      if (!producer) {
        for (const item of queued) errors.set(item.jobId, `no producer binding for queue ${queue} in ORIGIN_QUEUES`);
        return;
      }
      let batch: { item: Outgoing; message: MessageSendRequest }[] = [];
      let size = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const sending = batch;
        batch = [];
        size = 0;
        try {
          faultPoint("recovery.send", queue);
          await producer.sendBatch(sending.map((s) => s.message));
        } catch (error) {
          for (const s of sending) errors.set(s.item.jobId, `send to ${queue} failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      };
      for (const item of queued) {
        let message: MessageSendRequest;
        try {
          message = await original(env, item);
        } catch (error) {
          errors.set(item.jobId, `cannot restore the original body: ${error instanceof Error ? error.message : String(error)}`);
          continue;
        }
        const bytes = item.sealedBody ? item.sealedBody.length : item.body.length;
        if (batch.length === BATCH_MESSAGES || (batch.length > 0 && size + bytes > BATCH_BYTES)) await flush();
        batch.push({ item, message });
        size += bytes;
      }
      await flush();
    }),
  );
  return errors;
}
