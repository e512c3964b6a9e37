// R2, the forensic archive: one NDJSON segment per tenant per flush, never one object per
// failure. Each failure's D1 row points at its line (key, offset, length) for a range read.

import { faultPoint } from "../faults";
import type { ArchivedLine, ArchivedOccurrence } from "../model";
import { inSink } from "../sink-error";

/** `<tenant>/YYYY/MM/DD/<epoch>-<first>-<last>.ndjson`: unique per ledger lifetime and outbox ids. */
export function segmentKey(tenant: string, epoch: string, createdAt: number, firstId: number, lastId: number): string {
  const day = new Date(createdAt).toISOString().slice(0, 10).replaceAll("-", "/");
  return `${tenant}/${day}/${epoch}-${firstId}-${lastId}.ndjson`;
}

/** One line per occurrence; the body is inlined as JSON when it is JSON. Deterministic. */
export function archiveLine(occurrence: ArchivedOccurrence): Uint8Array {
  const body = occurrence.bodyEncoding === "json" ? (JSON.parse(occurrence.body) as unknown) : occurrence.body;
  return new TextEncoder().encode(`${JSON.stringify({ ...occurrence, body })}\n`);
}

/** Lays occurrences out from `start`, returning each one's line position. */
export function layOut(occurrences: readonly ArchivedOccurrence[], start: number): { lines: ArchivedLine[]; chunks: Uint8Array[]; end: number } {
  const lines: ArchivedLine[] = [];
  const chunks: Uint8Array[] = [];
  let offset = start;
  for (const o of occurrences) {
    const bytes = archiveLine(o);
    chunks.push(bytes);
    lines.push({ jobId: o.jobId, lastFailedAt: o.lastFailedAt, offset, length: bytes.byteLength });
    offset += bytes.byteLength;
  }
  return { lines, chunks, end: offset };
}

export function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

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
