// The outbox: every record writes the side effects it owes D1, R2 and Analytics Engine as rows
// here, in the same transaction. The alarm flushes them in batches (see flush.ts).

import type { ArchivedOccurrence, UserNotice } from "../model";
import { scheduleIfAbsent } from "./scheduler";
import type { OutboxPart } from "./head";
import { run, sql } from "../sql";

export type OutboxRow = {
  id: number;
  created_at: number;
  job_ids: string;
  occurrences: string;
  archive_key: string | null;
  archive_offset: number | null;
  notices: string;
  /** about the bytes of its archived lines (0 in rows written before ledger v14) */
  archive_bytes: number;
};

/** Rows stay well under the 2 MB row limit even with 128 KB bodies. */
const CHUNK_BYTES = 512 * 1024;

/**
 * Reserves `count` outbox ids. Every failure written by this record carries the last one, so it
 * counts as flushed only when no outbox row at or below it is pending.
 */
export function reserveOutboxIds(ids: OutboxPart, count: number): { firstId: number; lastId: number } {
  const next = ids.reserve(count);
  return { firstId: next, lastId: next + Math.max(count, 1) - 1 };
}

/**
 * Writes the occurrences in chunks, each listing the jobs whose state it must carry to D1; the
 * first row also carries the user notices for the D1 inbox.
 */
export function writeOutbox(
  storage: SqlStorage,
  firstId: number,
  now: number,
  occurrences: readonly ArchivedOccurrence[],
  notices: readonly UserNotice[] = [],
): void {
  let id = firstId;
  let chunk: string[] = [];
  let jobs = new Set<string>();
  let size = 0;
  let pendingNotices = notices;
  const emit = () => {
    run(
      storage,
      sql`INSERT INTO outbox (id, created_at, job_ids, occurrences, notices, archive_bytes)
        VALUES (${id++}, ${now}, ${JSON.stringify([...jobs])}, ${`[${chunk.join(",")}]`}, ${JSON.stringify(pendingNotices)}, ${size})`,
    );
    chunk = [];
    jobs = new Set();
    size = 0;
    pendingNotices = [];
  };
  for (const occurrence of occurrences) {
    const json = JSON.stringify(occurrence);
    if (chunk.length > 0 && size + json.length > CHUNK_BYTES) emit();
    chunk.push(json);
    jobs.add(occurrence.jobId);
    size += json.length;
  }
  if (chunk.length > 0 || pendingNotices.length > 0) emit();
}

/**
 * Owes D1 the current state of `jobIds` (a status change without a new occurrence) and these
 * notices: one outbox row. Returns its id (the failures are to be stamped with it, so retention
 * keeps them until it is flushed), or null when nothing is owed.
 */
export function touchOutbox(
  storage: SqlStorage,
  ids: OutboxPart,
  jobIds: readonly string[],
  now: number,
  flushAt: number,
  notices: readonly UserNotice[] = [],
): number | null {
  if (jobIds.length === 0 && notices.length === 0) return null;
  const { firstId } = reserveOutboxIds(ids, 1);
  run(
    storage,
    sql`INSERT INTO outbox (id, created_at, job_ids, occurrences, notices)
      VALUES (${firstId}, ${now}, ${JSON.stringify(jobIds)}, '[]', ${JSON.stringify(notices)})`,
  );
  scheduleIfAbsent(storage, "flush", "outbox", flushAt);
  return firstId;
}

/** The oldest pending rows, up to a size budget (of the lines they archive) for one flush. */
export function pendingOutbox(storage: SqlStorage, maxBytes = 8 * 1024 * 1024, maxRows = 200): OutboxRow[] {
  const rows: OutboxRow[] = [];
  let size = 0;
  for (const row of run<OutboxRow>(storage, sql`SELECT * FROM outbox ORDER BY id LIMIT ${maxRows}`)) {
    const bytes = Math.max(row.archive_bytes, row.occurrences.length);
    if (rows.length > 0 && size + bytes > maxBytes) break;
    rows.push(row);
    size += bytes;
  }
  return rows;
}

export interface OutboxDepth {
  pendingRows: number;
  oldestPendingAt: number | null;
}

export function outboxDepth(storage: SqlStorage): OutboxDepth {
  const row = run<{ n: number; oldest: number | null }>(storage, sql`SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox`).one();
  return { pendingRows: row.n, oldestPendingAt: row.oldest };
}

/** Failures stamped at or above this are still owed to D1 or R2. */
export function lowestPendingId(storage: SqlStorage): number | null {
  return run<{ id: number | null }>(storage, sql`SELECT MIN(id) AS id FROM outbox`).one().id;
}
