// The archive's format, shared by the ledger that lays a flush's segment out and the sink that
// writes and reads it: one NDJSON line per occurrence, each failure's D1 row pointing at its line.

import type { ArchivedLine, ArchivedOccurrence } from "./model";

/** `<tenant>/YYYY/MM/DD/<epoch>-<first>-<last>.ndjson`: unique per ledger lifetime and outbox ids. */
export function segmentKey(tenant: string, epoch: string, createdAt: number, firstId: number, lastId: number): string {
  const day = new Date(createdAt).toISOString().slice(0, 10).replaceAll("-", "/");
  return `${tenant}/${day}/${epoch}-${firstId}-${lastId}.ndjson`;
}

/** One line per occurrence; the body is inlined as JSON when it is JSON. Deterministic. */
function archiveLine(occurrence: ArchivedOccurrence): Uint8Array {
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
