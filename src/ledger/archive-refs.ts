// Occurrences the outbox archives from their failure row. A failure row holds its latest
// occurrence's fields (class, reason, group, error, body), so for that occurrence the outbox keeps
// only what the row does not (an OccurrenceRef), and the flush builds its archived line from the
// row. The row's archive_ref names the outbox row that holds the ref.
//
// Before the row takes another occurrence's fields (a later occurrence, a replaced body) while
// that outbox row is still pending, the ref becomes a whole copy, built by the same function the
// flush uses: a line already laid out in a segment keeps its length.

import type { ArchivedOccurrence, ErrorInfo, FailureInput, OccurrenceRef, OutboxOccurrence } from "../model";
import { fitting, run, sql } from "../sql";

/** The failure row's columns an archived line takes from it. */
type RowFields = {
  job_id: string;
  class: ArchivedOccurrence["class"];
  reason: string;
  group_fp: string;
  error: string | null;
  body: string;
  body_encoding: "json" | "base64";
  body_redacted: number;
};

const ROW_FIELDS = sql.raw(`job_id, class, reason, group_fp, error, body, body_encoding, body_redacted`);

export function refTo(f: FailureInput, tenantId: string, recordedAt: number): OccurrenceRef {
  return {
    ref: true,
    jobId: f.jobId,
    occurrenceKey: f.occurrenceKey,
    ...(f.userId === undefined ? {} : { userId: f.userId }),
    queue: f.queue,
    attempts: f.attempts,
    firstFailedAt: f.firstFailedAt,
    lastFailedAt: f.lastFailedAt,
    tenantId,
    recordedAt,
  };
}

function archivedFrom(ref: OccurrenceRef, row: RowFields): ArchivedOccurrence {
  return {
    jobId: ref.jobId,
    occurrenceKey: ref.occurrenceKey,
    ...(ref.userId === undefined ? {} : { userId: ref.userId }),
    queue: ref.queue,
    class: row.class,
    reason: row.reason,
    fingerprint: row.group_fp,
    error: row.error === null ? null : (JSON.parse(row.error) as ErrorInfo),
    body: row.body,
    bodyEncoding: row.body_encoding,
    ...(row.body_redacted ? { bodyRedacted: true } : {}),
    attempts: ref.attempts,
    firstFailedAt: ref.firstFailedAt,
    lastFailedAt: ref.lastFailedAt,
    tenantId: ref.tenantId,
    recordedAt: ref.recordedAt,
  };
}

const isRef = (o: OutboxOccurrence): o is OccurrenceRef => "ref" in o;

function rowFields(storage: SqlStorage, jobIds: readonly string[]): Map<string, RowFields> {
  const rows = new Map<string, RowFields>();
  for (const chunk of fitting([...new Set(jobIds)], 1)) {
    for (const row of run<RowFields>(storage, sql`SELECT ${ROW_FIELDS} FROM failures WHERE job_id IN ${sql.list(chunk)}`)) rows.set(row.job_id, row);
  }
  return rows;
}

/** An outbox row's occurrences as archived, each ref built from its failure row. */
export function resolveOccurrences(storage: SqlStorage, occurrences: readonly OutboxOccurrence[]): ArchivedOccurrence[] {
  const refs = occurrences.filter(isRef);
  const rows = refs.length > 0 ? rowFields(storage, refs.map((r) => r.jobId)) : new Map<string, RowFields>();
  return occurrences.map((o) => {
    if (!isRef(o)) return o;
    const row = rows.get(o.jobId);
    // A pending ref's row cannot have left: retention keeps what the outbox has not flushed.
    if (!row) throw new Error(`outbox refers to ${o.jobId}, which the ledger no longer holds`);
    return archivedFrom(o, row);
  });
}

/**
 * Turns the pending refs of these jobs into whole copies, while their rows still hold the
 * fields the refs stand for. `outboxId` is each row's archive_ref; a ref already flushed needs
 * nothing.
 */
export function materializeRefs(storage: SqlStorage, jobs: readonly { jobId: string; outboxId: number }[]): void {
  if (jobs.length === 0) return;
  const rows = rowFields(storage, jobs.map((j) => j.jobId));
  for (const outboxId of new Set(jobs.map((j) => j.outboxId))) {
    const outbox = run<{ occurrences: string }>(storage, sql`SELECT occurrences FROM outbox WHERE id = ${outboxId}`).toArray()[0];
    if (!outbox) continue;
    const wanted = new Set(jobs.filter((j) => j.outboxId === outboxId).map((j) => j.jobId));
    const occurrences = (JSON.parse(outbox.occurrences) as OutboxOccurrence[]).map((o) => {
      const row = isRef(o) && wanted.has(o.jobId) ? rows.get(o.jobId) : undefined;
      return row && isRef(o) ? archivedFrom(o, row) : o;
    });
    run(storage, sql`UPDATE outbox SET occurrences = ${JSON.stringify(occurrences)} WHERE id = ${outboxId}`);
  }
}
