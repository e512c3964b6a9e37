// D1, the queryable record across tenants: batched, idempotent upserts of absolute state, so a
// flush that runs twice changes nothing. One batch() per flush: all of it lands, or none.

import { faultPoint } from "../faults";
import type { D1FailureState, ErrorInfo, FailureClass, FailureStatus, UserNotice } from "../model";
import { inSink } from "../sink-error";
import { shardIfAssigned } from "./shards";

/** D1 allows 100 bound parameters per statement. */
const MAX_PARAMS = 100;
const ERROR_MESSAGE_CHARS = 4096;

export interface D1GroupState {
  fingerprint: string;
  queue: string;
  class: string;
  errorName: string;
  messageSample: string;
  sampleJobId: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/**
 * dlq_recovery_queue holds the jobs automatic recovery gave up on (exhausted), as the seed's
 * table did. A failure leaves it when a person or a success settles it; an open failure was
 * never in it, so no delete is spent on it.
 */
const IN_RECOVERY_QUEUE: FailureStatus = "exhausted";
const NEVER_QUEUED: FailureStatus = "open";

function multiRow<T>(db: D1Database, head: string, columns: number, tail: string, items: readonly T[], values: (item: T) => unknown[]) {
  const perStatement = Math.floor(MAX_PARAMS / columns);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < items.length; i += perStatement) {
    const slice = items.slice(i, i + perStatement);
    const placeholders = slice.map(() => `(${Array(columns).fill("?").join(", ")})`).join(", ");
    statements.push(db.prepare(`${head} VALUES ${placeholders} ${tail}`).bind(...slice.flatMap(values)));
  }
  return statements;
}

export function failureStatements(db: D1Database, tenant: string, failures: readonly D1FailureState[], now: number): D1PreparedStatement[] {
  const upserts = multiRow(
    db,
    `INSERT INTO failures (tenant_id, job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
       error_name, error_message, error_status, error_code, first_failed_at, last_failed_at,
       archive_key, archive_offset, archive_length, updated_at)`,
    20,
    // user_id is left out on purpose: it is indexed, and naming it costs an index write per repeat
    // even when unchanged (the user known at the first flush is the one kept).
    // A row whose first failure comes after everything D1 has for the job is the same job failing
    // again after the ledger evicted it: its counts add to the record instead of replacing it.
    `ON CONFLICT (tenant_id, job_id) DO UPDATE SET
       queue = excluded.queue, class = excluded.class, reason = excluded.reason, status = excluded.status,
       attempts = CASE WHEN excluded.first_failed_at > failures.last_failed_at
         THEN failures.attempts + excluded.attempts ELSE excluded.attempts END,
       occurrences = CASE WHEN excluded.first_failed_at > failures.last_failed_at
         THEN failures.occurrences + excluded.occurrences ELSE excluded.occurrences END,
       group_fp = excluded.group_fp, error_name = excluded.error_name, error_message = excluded.error_message,
       error_status = excluded.error_status, error_code = excluded.error_code,
       first_failed_at = MIN(failures.first_failed_at, excluded.first_failed_at), last_failed_at = excluded.last_failed_at,
       archive_key = COALESCE(excluded.archive_key, failures.archive_key),
       archive_offset = COALESCE(excluded.archive_offset, failures.archive_offset),
       archive_length = COALESCE(excluded.archive_length, failures.archive_length),
       updated_at = excluded.updated_at`,
    failures,
    (f) => [
      tenant,
      f.jobId,
      f.userId,
      f.queue,
      f.class,
      f.reason,
      f.status,
      f.attempts,
      f.occurrences,
      f.group,
      f.error?.name ?? null,
      f.error?.message.slice(0, ERROR_MESSAGE_CHARS) ?? null,
      f.error?.status ?? null,
      f.error?.code ?? null,
      f.firstFailedAt,
      f.lastFailedAt,
      f.archive?.key ?? null,
      f.archive?.offset ?? null,
      f.archive?.length ?? null,
      now,
    ],
  );

  const waiting = failures.filter((f) => f.status === IN_RECOVERY_QUEUE);
  const settled = failures.filter((f) => f.status !== IN_RECOVERY_QUEUE && f.status !== NEVER_QUEUED);
  const enqueue = multiRow(
    db,
    `INSERT INTO dlq_recovery_queue (tenant_id, job_id, queue, class, status, reason, enqueued_at, updated_at)`,
    8,
    `ON CONFLICT (tenant_id, job_id) DO UPDATE SET queue = excluded.queue, class = excluded.class,
       status = excluded.status, reason = excluded.reason, updated_at = excluded.updated_at`,
    waiting,
    (f) => [tenant, f.jobId, f.queue, f.class, f.status, f.reason, f.firstFailedAt, now],
  );
  const dequeue: D1PreparedStatement[] = [];
  for (let i = 0; i < settled.length; i += MAX_PARAMS - 1) {
    const ids = settled.slice(i, i + MAX_PARAMS - 1).map((f) => f.jobId);
    dequeue.push(
      db.prepare(`DELETE FROM dlq_recovery_queue WHERE tenant_id = ? AND job_id IN (${ids.map(() => "?").join(", ")})`).bind(tenant, ...ids),
    );
  }
  return [...upserts, ...enqueue, ...dequeue];
}

export function groupStatements(db: D1Database, tenant: string, groups: readonly D1GroupState[]): D1PreparedStatement[] {
  return multiRow(
    db,
    `INSERT INTO failure_groups (tenant_id, fingerprint, queue, class, error_name, message_sample, sample_job_id,
       count, first_seen, last_seen)`,
    10,
    `ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET queue = excluded.queue, class = excluded.class,
       error_name = excluded.error_name, message_sample = excluded.message_sample, sample_job_id = excluded.sample_job_id,
       count = excluded.count, first_seen = excluded.first_seen, last_seen = excluded.last_seen`,
    groups,
    (g) => [tenant, g.fingerprint, g.queue, g.class, g.errorName, g.messageSample, g.sampleJobId, g.count, g.firstSeen, g.lastSeen],
  );
}

/** Into the users' inbox; a notice is written once whatever the retries (its id is its key). */
export function noticeStatements(db: D1Database, tenant: string, notices: readonly UserNotice[]): D1PreparedStatement[] {
  return multiRow(
    db,
    `INSERT INTO user_notifications (tenant_id, id, user_id, kind, job_id, title, body, created_at)`,
    8,
    `ON CONFLICT (tenant_id, id) DO NOTHING`,
    notices,
    (n) => [tenant, n.id, n.userId, n.kind, n.jobId, n.title, n.body, n.createdAt],
  );
}

export async function writeD1Batch(db: D1Database, tenant: string, statements: D1PreparedStatement[]): Promise<number> {
  if (statements.length === 0) return 0;
  return inSink("d1", async () => {
    faultPoint("d1.batch", tenant);
    const results = await db.batch(statements);
    return results.reduce((n, r) => n + (r.meta.rows_written ?? 0), 0);
  });
}

type D1FailureRow = {
  job_id: string;
  user_id: string | null;
  queue: string;
  class: FailureClass;
  reason: string;
  status: FailureStatus;
  attempts: number;
  occurrences: number;
  group_fp: string;
  error_name: string | null;
  error_message: string | null;
  error_status: number | null;
  error_code: string | null;
  first_failed_at: number;
  last_failed_at: number;
  archive_key: string | null;
  archive_offset: number | null;
  archive_length: number | null;
};

/** A failure as D1 records it, in the API's summary shape, with its archive pointer. */
export async function archivedFailure(env: Env, tenant: string, jobId: string) {
  const db = await shardIfAssigned(env, tenant);
  if (!db) return null;
  const row = await db.prepare(`SELECT * FROM failures WHERE tenant_id = ? AND job_id = ?`).bind(tenant, jobId).first<D1FailureRow>();
  if (!row) return null;
  const error: ErrorInfo | null =
    row.error_name === null
      ? null
      : {
          name: row.error_name,
          message: row.error_message ?? "",
          ...(row.error_status === null ? {} : { status: row.error_status }),
          ...(row.error_code === null ? {} : { code: row.error_code }),
        };
  return {
    jobId: row.job_id,
    tenantId: tenant,
    userId: row.user_id,
    queue: row.queue,
    class: row.class,
    reason: row.reason,
    status: row.status,
    attempts: row.attempts,
    occurrences: row.occurrences,
    group: row.group_fp,
    error,
    firstFailedAt: new Date(row.first_failed_at).toISOString(),
    lastFailedAt: new Date(row.last_failed_at).toISOString(),
    archive:
      row.archive_key !== null && row.archive_offset !== null && row.archive_length !== null
        ? { key: row.archive_key, offset: row.archive_offset, length: row.archive_length }
        : null,
  };
}
