// The DLQ consumer's own dead-letter queue: whatever lands here (a message our consumer could not
// record after every retry) is redacted, archived raw to R2 and listed in D1 before it is acked.
// No Durable Object involved, so a broken ledger cannot block it.

import { asBytes, isBytes, toBase64 } from "../bytes";
import { readConfig } from "../config";
import { faultPoint } from "../faults";
import { QUARANTINE_TENANT } from "../model";
import { redactorFor } from "./consumer";
import type { Redactor } from "./redact";
import { prepare, sql } from "../sql";

export const PARKING_PREFIX = "_parking";
const RETRY_DELAY_SECONDS = 30;

export function parkingKey(message: Message<unknown>): string {
  const day = message.timestamp.toISOString().slice(0, 10).replaceAll("-", "/");
  return `${PARKING_PREFIX}/${day}/${encodeURIComponent(message.id)}.json`;
}

export async function consumeParking(batch: MessageBatch<unknown>, env: Env, ctx: ExecutionContext): Promise<void> {
  const redact = redactorFor(readConfig(env).redactKeys);
  const archived: { message: Message<unknown>; key: string; bytes: number }[] = [];
  await Promise.all(
    batch.messages.map(async (message) => {
      const key = parkingKey(message);
      const text = serialise(batch.queue, message, redact);
      try {
        faultPoint("parking.put", message.id);
        // Written once: a redelivery finds the object and leaves it.
        await env.ARCHIVE.put(key, text, { onlyIf: { etagDoesNotMatch: "*" }, httpMetadata: { contentType: "application/json" } });
        archived.push({ message, key, bytes: text.length });
      } catch (error) {
        console.error(`parking: could not archive message ${message.id}, will retry`, error);
        message.retry({ delaySeconds: RETRY_DELAY_SECONDS });
      }
    }),
  );
  if (archived.length === 0) return;
  try {
    faultPoint("parking.d1");
    await env.DB.batch(
      archived.map(({ message, key, bytes }) =>
        prepare(
          env.DB,
          sql`INSERT OR IGNORE INTO parked_messages (message_id, queue, archive_key, bytes, attempts, parked_at)
              VALUES ${sql.list([message.id, batch.queue, key, bytes, message.attempts, Date.now()])}`,
        ),
      ),
    );
  } catch (error) {
    console.error(`parking: could not list ${archived.length} archived message(s) in D1, will retry`, error);
    for (const { message } of archived) message.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    return;
  }
  console.error(`parking: ${archived.length} message(s) from ${batch.queue} archived under ${PARKING_PREFIX}/: ops attention needed`);
  for (const { message } of archived) message.ack();
  // Ops hear of it through the quarantine ledger's alerts; best effort, after the ack: the
  // archive does not depend on any Durable Object being well.
  ctx.waitUntil(
    env.FAILURE_LEDGER.getByName(QUARANTINE_TENANT)
      .parked(batch.queue, archived.length, archived[0]!.key)
      .catch((error: unknown) => console.error("parking: could not alert ops", error)),
  );
}

function serialise(queue: string, message: Message<unknown>, redact: Redactor): string {
  const head = { id: message.id, queue, timestamp: message.timestamp.toISOString(), attempts: message.attempts };
  const body = message.body;
  if (isBytes(body)) return JSON.stringify({ ...head, bodyEncoding: "base64", body: toBase64(redact.bytes(asBytes(body))) });
  try {
    const json = JSON.stringify({ ...head, bodyEncoding: "json", body: redact.value(body) });
    if (json !== undefined) return json;
  } catch {
    // not serialisable as JSON: kept as text below
  }
  return JSON.stringify({ ...head, bodyEncoding: "string", body: redact.text(String(body)) });
}
