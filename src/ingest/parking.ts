// The DLQ consumer's own dead-letter queue: whatever lands here (a message our consumer could not
// record after every retry) is archived raw to R2 before it is acked. No Durable Object involved.

import { asBytes, isBytes, toBase64 } from "../bytes";
import { faultPoint } from "../faults";

export const PARKING_PREFIX = "_parking";

export function parkingKey(message: Message<unknown>): string {
  const day = message.timestamp.toISOString().slice(0, 10).replaceAll("-", "/");
  return `${PARKING_PREFIX}/${day}/${encodeURIComponent(message.id)}.json`;
}

export async function consumeParking(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        faultPoint("parking.put");
        await env.ARCHIVE.put(parkingKey(message), serialise(batch.queue, message), {
          httpMetadata: { contentType: "application/json" },
        });
        console.error(`parked message ${message.id} from ${batch.queue} archived to R2: ops attention needed`);
        message.ack();
      } catch (error) {
        console.error(`parking: could not archive message ${message.id}, will retry`, error);
        message.retry({ delaySeconds: 30 });
      }
    }),
  );
}

function serialise(queue: string, message: Message<unknown>): string {
  const head = { id: message.id, queue, timestamp: message.timestamp.toISOString(), attempts: message.attempts };
  const body = message.body;
  if (isBytes(body)) return JSON.stringify({ ...head, bodyEncoding: "base64", body: toBase64(asBytes(body)) });
  try {
    return JSON.stringify({ ...head, bodyEncoding: "json", body });
  } catch {
    return JSON.stringify({ ...head, bodyEncoding: "string", body: String(body) });
  }
}
