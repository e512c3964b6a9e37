// Occurrences the outbox archives from their failure row. A failure row holds its latest
// occurrence's fields (class, reason, group, error, body), so for that occurrence the outbox keeps
// only what the row does not (an OccurrenceRef), and the flush builds its archived line from the
// row. The row's archive_ref names the outbox row that holds the ref.
//
// Before the row takes another occurrence's fields (a later occurrence, a replaced body) while
// that outbox row is still pending, the fields the ref stands for are kept beside it
// (archived_fields), and the flush builds the line from them by the same function: a line
// already laid out in a segment keeps its length.

import type { ArchivedOccurrence, ErrorInfo, FailureInput, OccurrenceRef, OutboxOccurrence } from "../../model";
import { fitting, run, sql } from "../../sql";

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
    lineBytes: f.body.length + (f.error ? f.error.message.length + (f.error.stack?.length ?? 0) : 0) + f.reason.length + 400,
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

/** For a ref whose failure row is gone (it cannot be, by retention's rule): a line that says so, not a stuck flush. */
const ROWLESS: RowFields = { job_id: "", class: "UNKNOWN", reason: "archived without its failure row", group_fp: "", error: null, body: "null", body_encoding: "json", body_redacted: 0 };

/**
 * An outbox row's occurrences as archived: a ref from the fields kept for it when its failure row
 * moved on, else from its failure row.
 */
export function resolveOccurrences(storage: SqlStorage, outboxId: number, occurrences: readonly OutboxOccurrence[]): ArchivedOccurrence[] {
  const refs = occurrences.filter(isRef).map((r) => r.jobId);
  const fields = new Map<string, RowFields>();
  for (const chunk of fitting([...new Set(refs)], 1, 1)) {
    for (const row of run<RowFields>(storage, sql`SELECT ${ROW_FIELDS} FROM failures WHERE job_id IN ${sql.list(chunk)}`)) fields.set(row.job_id, row);
    for (const row of run<RowFields>(storage, sql`SELECT ${ROW_FIELDS} FROM archived_fields WHERE outbox_id = ${outboxId} AND job_id IN ${sql.list(chunk)}`)) {
      fields.set(row.job_id, row);
    }
  }
  return occurrences.map((o) => {
    if (!isRef(o)) return o;
    const row = fields.get(o.jobId);
    if (!row) console.error(`outbox row ${outboxId} refers to ${o.jobId}, which the ledger no longer holds: archived without its fields`);
    return archivedFrom(o, row ?? ROWLESS);
  });
}

/**
 * Keeps the fields a job's pending ref stands for, before its row takes another occurrence's
 * (`next`'s, when it is a later occurrence: fields it would leave as they are need no keeping).
 * `outboxId` is the row's archive_ref, still pending (a ref already flushed needs nothing). One row, beside the
 * outbox row, which keeps its size: a batch of refs to large bodies would otherwise grow it past
 * the row limit.
 */
export function keepRefFields(storage: SqlStorage, jobId: string, outboxId: number, next?: FailureInput): void {
  const unchanged = next
    ? sql`AND NOT (class = ${next.class} AND reason = ${next.reason} AND group_fp = ${next.fingerprint} AND error IS ${next.error ? JSON.stringify(next.error) : null}
          AND body = ${next.body} AND body_encoding = ${next.bodyEncoding} AND body_redacted = ${next.bodyRedacted === true})`
    : sql``;
  run(
    storage,
    sql`INSERT INTO archived_fields (outbox_id, ${ROW_FIELDS})
        SELECT ${outboxId}, ${ROW_FIELDS} FROM failures
        WHERE job_id = ${jobId} ${unchanged}
        ON CONFLICT DO NOTHING`,
  );
}

/** The outbox rows up to `outboxId` are flushed: the fields kept for their refs go. */
export function releaseKeptFields(storage: SqlStorage, outboxId: number): void {
  run(storage, sql`DELETE FROM archived_fields WHERE outbox_id <= ${outboxId}`);
}
