// Flushing the outbox: one R2 segment for the rows not yet archived, one D1 batch with the
// current state of every job and group they touched and the tenant's counters, one data point per
// group, and only then the rows leave the outbox. Each step is safe to repeat if a later one fails.

import type { ArchivedLine, ArchivedOccurrence, D1FailureState, UserNotice } from "../model";
import { putSegment, concat, layOut, segmentKey } from "../sinks/archive";
import { failureStatements, groupStatements, noticeStatements, summaryStatement, writeD1Batch } from "../sinks/d1";
import { inSink } from "../sink-error";
import { shardFor } from "../sinks/shards";
import { writeFailurePoints } from "../sinks/analytics";
import { inChunks } from "./chunks";
import { readCounters } from "./counters";
import { pendingOutbox, type OutboxRow } from "./outbox";
import { SUMMARY_COLUMNS, failureFields, readGroups, type FailureRow } from "./queries";
import { countInSeries } from "./series";

export interface FlushTarget {
  storage: DurableObjectStorage;
  env: Env;
  tenant: string;
  epoch: string;
  now: number;
}

export interface FlushReport {
  rows: number;
  occurrences: number;
  segmentKey: string | null;
  d1RowsWritten: number;
}

export async function flushOutbox(t: FlushTarget): Promise<FlushReport> {
  const sql = t.storage.sql;
  const rows = pendingOutbox(sql).map((row) => ({ row, occurrences: JSON.parse(row.occurrences) as ArchivedOccurrence[] }));
  const report: FlushReport = { rows: rows.length, occurrences: 0, segmentKey: null, d1RowsWritten: 0 };
  if (rows.length === 0) return report;

  const fresh = rows.filter((r) => r.row.archive_key === null && r.occurrences.length > 0);
  const first = fresh[0];
  const last = fresh[fresh.length - 1];
  if (first && last) {
    const key = segmentKey(t.tenant, t.epoch, first.row.created_at, first.row.id, last.row.id);
    const chunks: Uint8Array[] = [];
    let offset = 0;
    for (const r of fresh) {
      r.row.archive_key = key;
      r.row.archive_offset = offset;
      const laid = layOut(r.occurrences, offset);
      chunks.push(...laid.chunks);
      offset = laid.end;
    }
    await putSegment(t.env.ARCHIVE, t.tenant, key, concat(chunks));
    t.storage.transactionSync(() => {
      for (const r of fresh) {
        sql.exec(`UPDATE outbox SET archive_key = ?, archive_offset = ? WHERE id = ?`, r.row.archive_key, r.row.archive_offset, r.row.id);
      }
    });
    report.segmentKey = key;
  }

  const pointers = latestLines(rows.map((r) => r.row), rows.map((r) => r.occurrences));
  const jobIds = [...new Set(rows.flatMap((r) => JSON.parse(r.row.job_ids) as string[]))];
  const failures = readFailureStates(sql, jobIds, pointers);
  const groups = readGroups(sql, [...new Set(failures.map((f) => f.group))]);
  const notices = rows.flatMap((r) => JSON.parse(r.row.notices) as UserNotice[]);
  const db = await inSink("d1", () => shardFor(t.env, t.tenant));
  report.d1RowsWritten = await writeD1Batch(db, t.tenant, [
    ...failureStatements(db, t.tenant, failures, t.now),
    ...groupStatements(db, t.tenant, groups),
    ...noticeStatements(db, t.tenant, notices),
    summaryStatement(db, t.tenant, readCounters(sql, t.now), t.now),
  ]);

  const occurrences = rows.flatMap((r) => r.occurrences);
  report.occurrences = occurrences.length;
  await writeFailurePoints(t.env.FAILURE_EVENTS, t.tenant, occurrences);
  t.storage.transactionSync(() => {
    // Counted as the rows leave the outbox, in one transaction: a retried flush counts nothing twice.
    countInSeries(sql, occurrences, t.now);
    for (const r of rows) sql.exec(`DELETE FROM outbox WHERE id = ?`, r.row.id);
  });
  return report;
}

/** For each job, the archived line of its latest occurrence among these rows. */
function latestLines(rows: OutboxRow[], occurrences: ArchivedOccurrence[][]): Map<string, ArchivedLine & { key: string }> {
  const latest = new Map<string, ArchivedLine & { key: string }>();
  rows.forEach((row, i) => {
    if (row.archive_key === null || row.archive_offset === null) return;
    for (const line of layOut(occurrences[i] ?? [], row.archive_offset).lines) {
      const known = latest.get(line.jobId);
      if (!known || line.lastFailedAt >= known.lastFailedAt) latest.set(line.jobId, { ...line, key: row.archive_key });
    }
  });
  return latest;
}

function readFailureStates(sql: SqlStorage, jobIds: string[], pointers: Map<string, ArchivedLine & { key: string }>): D1FailureState[] {
  return inChunks(jobIds, (chunk, placeholders) =>
    sql
      .exec<FailureRow>(`SELECT ${SUMMARY_COLUMNS} FROM failures WHERE job_id IN (${placeholders})`,
        ...chunk,
      )
      .toArray(),
  ).map((row) => {
    const pointer = pointers.get(row.job_id);
    return { ...failureFields(row), archive: pointer ? { key: pointer.key, offset: pointer.offset, length: pointer.length } : null };
  });
}
