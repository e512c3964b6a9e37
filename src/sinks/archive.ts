// R2, the forensic archive: one NDJSON segment per tenant per flush, never one object per
// failure. Each failure's D1 row points at its line (key, offset, length) for a range read.

import { faultPoint } from "../faults";
import type { ArchivedOccurrence } from "../model";
import { inSink } from "../sink-error";

/**
 * Writes a segment once: a retry after a put that did land finds the object there and leaves it.
 * The sha256 makes R2 reject a body damaged in transit.
 */
export async function putSegment(bucket: R2Bucket, tenant: string, key: string, bytes: Uint8Array): Promise<void> {
  const sha256 = await crypto.subtle.digest("SHA-256", bytes);
  await inSink("r2", async () => {
    faultPoint("r2.put", tenant);
    await bucket.put(key, bytes, {
      sha256,
      onlyIf: { etagDoesNotMatch: "*" },
      httpMetadata: { contentType: "application/x-ndjson" },
    });
  });
}

/** An archived line: the occurrence with its body inlined as JSON when it was JSON. */
export type ArchivedEnvelope = Omit<ArchivedOccurrence, "body"> & { body: unknown };

export async function readArchivedLine(bucket: R2Bucket, key: string, offset: number, length: number): Promise<ArchivedEnvelope | null> {
  const object = await bucket.get(key, { range: { offset, length } });
  if (!object) return null;
  return JSON.parse(await object.text()) as ArchivedEnvelope;
}
