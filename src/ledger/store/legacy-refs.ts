// Outbox rows written before ledger v16 may hold refs (OccurrenceRef): an occurrence the outbox
// did not copy, because its failure row held its fields; the flush built its archived line from
// the row. Refs cost more rows than they saved (docs/ARCHITECTURE.md, "Each mechanism,
// measured with and without it") and are no longer written. The v16 step kept the fields of every ref still pending in
// `archived_fields`, so such a row still flushes as it came; each is gone one flush after the
// upgrade, and a later schema step can drop this reader and its table.

import type { ArchivedOccurrence, ErrorInfo, OccurrenceRef, OutboxOccurrence } from "../../model";
import { fitting, run, sql } from "../../sql";

/** The fields kept for a ref. */
type KeptFields = {
  job_id: string;
  class: ArchivedOccurrence["class"];
  reason: string;
  group_fp: string;
  error: string | null;
  body: string;
  body_encoding: "json" | "base64";
  body_redacted: number;
};

const KEPT_FIELDS = sql.raw(`job_id, class, reason, group_fp, error, body, body_encoding, body_redacted`);

function archivedFrom(ref: OccurrenceRef, row: KeptFields): ArchivedOccurrence {
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

/** For a ref whose fields were not kept (it cannot be, by the v16 step): a line that says so, not a stuck flush. */
const MISSING: KeptFields = { job_id: "", class: "UNKNOWN", reason: "archived without its fields", group_fp: "", error: null, body: "null", body_encoding: "json", body_redacted: 0 };

/** An outbox row's occurrences as archived: whole copies as they are, refs from the fields kept for them. */
export function resolveOccurrences(storage: SqlStorage, outboxId: number, occurrences: readonly OutboxOccurrence[]): ArchivedOccurrence[] {
  const refs = occurrences.filter(isRef).map((r) => r.jobId);
  if (refs.length === 0) return occurrences as ArchivedOccurrence[];
  const fields = new Map<string, KeptFields>();
  for (const chunk of fitting([...new Set(refs)], 1, 1)) {
    for (const row of run<KeptFields>(storage, sql`SELECT ${KEPT_FIELDS} FROM archived_fields WHERE outbox_id = ${outboxId} AND job_id IN ${sql.list(chunk)}`)) {
      fields.set(row.job_id, row);
    }
  }
  return occurrences.map((o) => {
    if (!isRef(o)) return o;
    const row = fields.get(o.jobId);
    if (!row) console.error(`outbox row ${outboxId} refers to ${o.jobId}, whose fields were not kept: archived without them`);
    return archivedFrom(o, row ?? MISSING);
  });
}

/** The outbox rows up to `outboxId` are flushed: the fields kept for their refs go. */
export function releaseKeptFields(storage: SqlStorage, outboxId: number): void {
  run(storage, sql`DELETE FROM archived_fields WHERE outbox_id <= ${outboxId}`);
}
