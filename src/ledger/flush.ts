// Flushing the outbox: one R2 segment for the rows not yet archived, one D1 batch with the
// current state of every job and group they touched and the tenant's counters, one data point per
// group, and only then the rows leave the outbox. Each step is safe to repeat if a later one fails.

import type { ArchivedLine, ArchivedOccurrence, D1FailureState, OutboxOccurrence, UserNotice } from "../model";
import { concat, layOut, segmentKey } from "../archive-format";
import { SinkError } from "../sink-error";
import type { LedgerCore } from "./core";
import { counterKey } from "./aggregates/counters";
import { raise, resolve } from "./notify/ops";
import { outboxDepth, pendingOutbox, type OutboxRow } from "./outbox";
import { FailureStore } from "./store";
import { applyRetention } from "./retention";
import { scheduleAt, scheduleIfAbsent, unschedule } from "./scheduler";
import { countInSeries } from "./aggregates/series";
import { readState, writeState } from "./state";
import { readCounterStats } from "./stats";
import { run, sql } from "../sql";

/** How often D1 retention looks at a tenant that keeps flushing: once a day (see sinks/d1-retention.ts). */
export const D1_RETENTION_EVERY_MS = 24 * 60 * 60 * 1000;

/** Flush retries back off from 2 s to 5 min. */
const flushBackoffMs = (failures: number) => Math.min(300_000, 1000 * 2 ** Math.min(failures, 9));

export interface FlushReport {
  rows: number;
  occurrences: number;
  segmentKey: string | null;
  d1RowsWritten: number;
}

/**
 * One flush pass, and its bookkeeping. A sink failure is expected: it is recorded for the stats
 * and retried with backoff from the due-work table (a stuck outbox alerts). Anything else is a
 * bug and is thrown for the platform to retry.
 */
export async function flush(core: LedgerCore, now: number): Promise<FlushReport | null> {
  let report: FlushReport;
  try {
    report = await flushOutbox(core, now);
  } catch (error) {
    if (!(error instanceof SinkError)) throw error;
    const failures = Number(readState(core.sql, "flush_failures") ?? 0) + 1;
    console.error(`ledger ${core.tenant}: flush failed (${failures} in a row), will retry`, error.message);
    core.transact((c) => {
      writeState(c.sql, "flush_failures", failures);
      writeState(c.sql, "last_flush_error", error.message.slice(0, 1000));
      writeState(c.sql, "last_flush_error_at", now);
      scheduleAt(c.sql, "flush", "outbox", now + flushBackoffMs(failures));
      const oldest = outboxDepth(c.sql).oldestPendingAt;
      if (oldest !== null && now - oldest >= c.settings.notify.outboxStuckAfterMs) {
        raise(c, {
          key: "outbox",
          severity: "critical",
          summary: `the outbox has not reached D1/R2 for ${Math.round((now - oldest) / 1000)} s: ${error.message}`.slice(0, 1024),
          details: { failures, lastError: error.message.slice(0, 500) },
        });
      }
    }, now);
    return null;
  }
  core.transact((c) => {
    writeState(c.sql, "flush_failures", 0);
    writeState(c.sql, "last_flush_error", null);
    writeState(c.sql, "last_flush_at", now);
    resolve(c, "outbox");
    c.deltas.add(counterKey.flushes, 1);
    c.deltas.add(counterKey.archivedOccurrences, report.occurrences);
    c.deltas.add(counterKey.segments, report.segmentKey ? 1 : 0);
    c.deltas.add(counterKey.d1RowsWritten, report.d1RowsWritten);
    if (outboxDepth(c.sql).pendingRows > 0) scheduleAt(c.sql, "flush", "outbox", now);
    else unschedule(c.sql, "flush", "outbox");
    // rows that were waiting for this flush may leave now
    applyRetention(c, c.settings.retention, now);
    if (report.d1RowsWritten > 0) scheduleIfAbsent(c.sql, "d1-retention", "d1", now + D1_RETENTION_EVERY_MS);
  }, now);
  return report;
}

async function flushOutbox(core: LedgerCore, now: number): Promise<FlushReport> {
  const storage = core.sql;
  const store = FailureStore.readOnly(storage);
  const t = { tenant: core.tenant, epoch: core.epoch(), now };
  const rows = pendingOutbox(storage).map((row) => ({ row, occurrences: store.archived(row.id, JSON.parse(row.occurrences) as OutboxOccurrence[]) }));
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
    await core.sinks.putSegment(t.tenant, key, concat(chunks));
    core.transact(() => {
      for (const r of fresh) {
        run(storage, sql`UPDATE outbox SET archive_key = ${r.row.archive_key}, archive_offset = ${r.row.archive_offset} WHERE id = ${r.row.id}`);
      }
    }, now);
    report.segmentKey = key;
  }

  const pointers = latestLines(rows.map((r) => r.row), rows.map((r) => r.occurrences));
  const jobIds = [...new Set(rows.flatMap((r) => JSON.parse(r.row.job_ids) as string[]))];
  const failures = store.failureFields(jobIds).map((fields): D1FailureState => {
    const pointer = pointers.get(fields.jobId);
    return { ...fields, archive: pointer ? { key: pointer.key, offset: pointer.offset, length: pointer.length } : null };
  });
  const groups = store.groupFields([...new Set(failures.map((f) => f.group))]);
  const notices = rows.flatMap((r) => JSON.parse(r.row.notices) as UserNotice[]);
  report.d1RowsWritten = await core.sinks.writeD1(t.tenant, { failures, groups, notices, summary: readCounterStats(core.sql, now) }, now);

  const occurrences = rows.flatMap((r) => r.occurrences);
  report.occurrences = occurrences.length;
  await core.sinks.writePoints(t.tenant, occurrences);
  core.transact((c) => {
    // Counted as the rows leave the outbox, in one transaction: a retried flush counts nothing twice.
    countInSeries(storage, occurrences, t.now);
    for (const r of rows) run(storage, sql`DELETE FROM outbox WHERE id = ${r.row.id}`);
    // The rows flushed are the oldest pending: no row at or below the last of them is left.
    c.store.flushedThrough(rows[rows.length - 1]!.row.id);
  }, now);
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
