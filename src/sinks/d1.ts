// D1, the queryable record across tenants: batched, idempotent upserts of absolute state, so a
// flush that runs twice changes nothing. One batch() per flush: all of it lands, or none.

import { faultPoint } from "../faults";
import { fieldsOf, type D1FailureState, type D1GroupState, type ErrorInfo, type FailureColumns, type FailureStatus, type TenantSummary, type UserNotice } from "../model";
import { inSink } from "../sink-error";
import { fitting, prepare, sql, type Sql, type SqlValue } from "../sql";
import { shardIfAssigned } from "./shards";

const ERROR_MESSAGE_CHARS = 4096;

/**
 * dlq_recovery_queue holds the jobs automatic recovery gave up on (exhausted), as the seed's
 * table did. A failure leaves it when a person or a success settles it; an open failure was
 * never in it, so no delete is spent on it.
 */
const IN_RECOVERY_QUEUE: FailureStatus = "exhausted";
const NEVER_QUEUED: FailureStatus = "open";

/** `column = excluded.column, ...`: what an upsert takes from the row it was given. */
const fromExcluded = (columns: readonly string[]) => sql.raw(columns.map((c) => `${c} = excluded.${c}`).join(", "));

/**
 * Multi-row INSERT ... SELECT over VALUES, with the values every row shares (`shared`, bound once)
 * ahead of each row's own; as many rows per statement as the 100-parameter limit allows.
 */
function insertRows<T>(db: D1Database, into: Sql, shared: readonly SqlValue[], items: readonly T[], row: (item: T) => SqlValue[], onConflict: Sql) {
  const width = items.length === 0 ? 0 : row(items[0]!).length;
  const own = Array.from({ length: width }, (_, i) => `column${i + 1}`).join(", ");
  return fitting(items, width, shared.length).map((chunk) =>
    // WHERE true: an upsert's INSERT ... SELECT needs a WHERE before ON CONFLICT to parse.
    prepare(
      db,
      sql`INSERT INTO ${into} SELECT ${sql.join(shared.map((v) => sql`${v}`))}, ${sql.raw(own)}
        FROM (VALUES ${sql.join(chunk.map((item) => sql.list(row(item))))}) WHERE true ${onConflict}`,
    ),
  );
}

const FAILURE_COLUMNS = `tenant_id, updated_at, job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
  error_name, error_message, error_status, error_code, first_failed_at, last_failed_at`;
const ARCHIVE_COLUMNS = ["archive_key", "archive_offset", "archive_length"];

function failureValues(f: D1FailureState): SqlValue[] {
  return [
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
  ];
}

/**
 * What every flush sets on a failure it touched: its latest state. user_id is set only when the row
 * is inserted (the user known at the first flush is the one kept), and first_failed_at only moves
 * earlier.
 */
const FAILURE_LATEST = fromExcluded(["queue", "class", "reason", "status", "group_fp", "error_name", "error_message", "error_status", "error_code", "last_failed_at", "updated_at"]);

/**
 * The special case: a row whose first failure comes after everything D1 has for the job is the same
 * job failing again after the ledger evicted it, so its counts add to the record instead of
 * replacing it.
 */
const FAILURE_COUNTS = sql`
  attempts = CASE WHEN excluded.first_failed_at > failures.last_failed_at THEN failures.attempts + excluded.attempts ELSE excluded.attempts END,
  occurrences = CASE WHEN excluded.first_failed_at > failures.last_failed_at THEN failures.occurrences + excluded.occurrences ELSE excluded.occurrences END,
  first_failed_at = MIN(failures.first_failed_at, excluded.first_failed_at)`;

export function failureStatements(db: D1Database, tenant: string, failures: readonly D1FailureState[], now: number): D1PreparedStatement[] {
  // The archive pointer is set only by a flush that archived the job's occurrence; the others
  // leave the one D1 has.
  const archived = failures.filter((f) => f.archive !== null);
  const unarchived = failures.filter((f) => f.archive === null);
  const upserts = [
    ...insertRows(
      db,
      sql.raw(`failures (${FAILURE_COLUMNS}, ${ARCHIVE_COLUMNS.join(", ")})`),
      [tenant, now],
      archived,
      (f) => [...failureValues(f), f.archive!.key, f.archive!.offset, f.archive!.length],
      sql`ON CONFLICT (tenant_id, job_id) DO UPDATE SET ${FAILURE_LATEST}, ${FAILURE_COUNTS}, ${fromExcluded(ARCHIVE_COLUMNS)}`,
    ),
    ...insertRows(
      db,
      sql.raw(`failures (${FAILURE_COLUMNS})`),
      [tenant, now],
      unarchived,
      failureValues,
      sql`ON CONFLICT (tenant_id, job_id) DO UPDATE SET ${FAILURE_LATEST}, ${FAILURE_COUNTS}`,
    ),
  ];

  const waiting = failures.filter((f) => f.status === IN_RECOVERY_QUEUE);
  const settled = failures.filter((f) => f.status !== IN_RECOVERY_QUEUE && f.status !== NEVER_QUEUED);
  const enqueue = insertRows(
    db,
    sql.raw(`dlq_recovery_queue (tenant_id, updated_at, job_id, queue, class, status, reason, enqueued_at)`),
    [tenant, now],
    waiting,
    (f) => [f.jobId, f.queue, f.class, f.status, f.reason, f.firstFailedAt],
    sql`ON CONFLICT (tenant_id, job_id) DO UPDATE SET ${fromExcluded(["queue", "class", "status", "reason", "updated_at"])}`,
  );
  const dequeue = fitting(settled, 1, 1).map((chunk) =>
    prepare(db, sql`DELETE FROM dlq_recovery_queue WHERE tenant_id = ${tenant} AND job_id IN ${sql.list(chunk.map((f) => f.jobId))}`),
  );
  return [...upserts, ...enqueue, ...dequeue];
}

export function groupStatements(db: D1Database, tenant: string, groups: readonly D1GroupState[]): D1PreparedStatement[] {
  return insertRows(
    db,
    sql.raw(`failure_groups (tenant_id, fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen)`),
    [tenant],
    groups,
    (g) => [g.fingerprint, g.queue, g.class, g.errorName, g.messageSample, g.sampleJobId, g.count, g.firstSeen, g.lastSeen],
    sql`ON CONFLICT (tenant_id, fingerprint) DO UPDATE SET ${fromExcluded(["queue", "class", "error_name", "message_sample", "sample_job_id", "count", "first_seen", "last_seen"])}`,
  );
}

/** Into the users' inbox; a notice is written once whatever the retries (its user, time and id are its key). */
export function noticeStatements(db: D1Database, tenant: string, notices: readonly UserNotice[]): D1PreparedStatement[] {
  return insertRows(
    db,
    sql.raw(`user_notifications (tenant_id, id, user_id, kind, job_id, title, body, created_at)`),
    [tenant],
    notices,
    (n) => [n.id, n.userId, n.kind, n.jobId, n.title, n.body, n.createdAt],
    sql`ON CONFLICT DO NOTHING`,
  );
}

/**
 * The tenant's summary row, what cross-tenant views read instead of grouping every failure. It
 * carries absolute values, so a repeated flush writes the same row; an older flush never
 * overwrites a newer one's.
 */
export function summaryStatement(db: D1Database, tenant: string, summary: TenantSummary, now: number): D1PreparedStatement {
  return prepare(
    db,
    sql`INSERT INTO tenant_summaries (tenant_id, total, occurrences, by_class, by_status, updated_at)
      VALUES (${tenant}, ${summary.total}, ${summary.occurrences}, ${JSON.stringify(summary.byClass)}, ${JSON.stringify(summary.byStatus)}, ${now})
      ON CONFLICT (tenant_id) DO UPDATE SET ${fromExcluded(["total", "occurrences", "by_class", "by_status", "updated_at"])}
      WHERE excluded.updated_at >= tenant_summaries.updated_at`,
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

type D1FailureRow = FailureColumns & {
  error_name: string | null;
  error_message: string | null;
  error_status: number | null;
  error_code: string | null;
  archive_key: string | null;
  archive_offset: number | null;
  archive_length: number | null;
};

/** A failure as D1 records it, in the API's summary shape, with its archive pointer. */
export async function archivedFailure(env: Env, tenant: string, jobId: string) {
  const db = await shardIfAssigned(env, tenant);
  if (!db) return null;
  const row = await prepare(db, sql`SELECT * FROM failures WHERE tenant_id = ${tenant} AND job_id = ${jobId}`).first<D1FailureRow>();
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
  const fields = fieldsOf(row, error);
  return {
    ...fields,
    tenantId: tenant,
    firstFailedAt: new Date(fields.firstFailedAt).toISOString(),
    lastFailedAt: new Date(fields.lastFailedAt).toISOString(),
    archive:
      row.archive_key !== null && row.archive_offset !== null && row.archive_length !== null
        ? { key: row.archive_key, offset: row.archive_offset, length: row.archive_length }
        : null,
  };
}
