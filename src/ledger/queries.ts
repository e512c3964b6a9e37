// Read paths of the ledger: a failures page (keyset pagination, newest first), one failure,
// the groups. All are served from the ledger's own tables, live.

import type * as Api from "../api/schemas";
import type { ErrorInfo, FailureClass, FailureFields, FailureStatus } from "../model";
import { inChunks } from "./chunks";
import { POISON_STREAK } from "./recovery/planner";

export interface FailureFilter {
  class?: FailureClass;
  queue?: string;
  status?: FailureStatus;
  group?: string;
  /** lastFailedAt range, epoch ms, inclusive */
  from?: number;
  to?: number;
}

/** The WHERE terms selecting failures that match `filter`. */
export function filterTerms(filter: FailureFilter): { where: string[]; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  const equal: [keyof FailureFilter, string][] = [
    ["class", "class"],
    ["queue", "queue"],
    ["status", "status"],
    ["group", "group_fp"],
  ];
  for (const [field, column] of equal) {
    const value = filter[field];
    if (value !== undefined) {
      where.push(`${column} = ?`);
      params.push(value);
    }
  }
  if (filter.from !== undefined) {
    where.push(`last_failed_at >= ?`);
    params.push(filter.from);
  }
  if (filter.to !== undefined) {
    where.push(`last_failed_at <= ?`);
    params.push(filter.to);
  }
  return { where, params };
}

export interface PageCursor {
  lastFailedAt: number;
  jobId: string;
}

/** What only the failures list searches by (a bulk operation's filter does not: it is not bounded). */
export interface FailureSearch {
  /** Case-insensitive (ASCII) substring of the job id, error message, reason or stored JSON body. */
  q?: string;
  /** One field of a JSON body equal to a value, compared as text. */
  field?: { path: string; value: string };
}

export interface FailureQuery extends FailureFilter, FailureSearch {
  limit: number;
  after?: PageCursor;
}

/** `a.b[0].c` as an SQLite JSON path, every key quoted: `$."a"."b"[0]."c"`. */
export function jsonPath(path: string): string {
  return `$${path
    .split(".")
    .map((segment) => segment.replace(/^([^[]+)/, (key) => `."${key}"`))
    .join("")}`;
}

const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The WHERE terms of a search, checked against each row of the bounded window. */
export function searchTerms(search: FailureSearch): { where: string[]; params: string[] } {
  const where: string[] = [];
  const params: string[] = [];
  if (search.q !== undefined) {
    const pattern = `%${likeEscape(search.q)}%`;
    where.push(
      `(job_id LIKE ? ESCAPE '\\' OR reason LIKE ? ESCAPE '\\' OR json_extract(error, '$.message') LIKE ? ESCAPE '\\'
        OR (body_encoding = 'json' AND body LIKE ? ESCAPE '\\'))`,
    );
    params.push(pattern, pattern, pattern, pattern);
  }
  if (search.field !== undefined) {
    const path = jsonPath(search.field.path);
    // json_extract gives true/false as 1/0: the JSON type keeps "true" and "1" apart.
    where.push(
      `(body_encoding = 'json' AND CASE json_type(body, ?) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null'
        ELSE CAST(json_extract(body, ?) AS TEXT) END = ?)`,
    );
    params.push(path, path, search.field.value);
  }
  return { where, params };
}

/** A failure as the API answers it (the schema is the one source of its shape). */
export type FailureSummary = Api.FailureSummary;

export interface FailureDetail extends FailureSummary {
  /** The job body as stored: JSON text, or base64 of its bytes. */
  body: string;
  bodyEncoding: "json" | "base64";
}

export interface FailurePage {
  items: FailureSummary[];
  next: PageCursor | null;
}

/** A group as the API answers it, before its sparkline is added. */
export type GroupSummary = Omit<Api.GroupSummary, "sparkline">;

export type FailureRow = {
  job_id: string;
  user_id: string | null;
  queue: string;
  class: FailureClass;
  reason: string;
  status: FailureStatus;
  attempts: number;
  occurrences: number;
  group_fp: string;
  error: string | null;
  first_failed_at: number;
  last_failed_at: number;
  recovery_attempts: number;
  poison_streak: number;
  recovery_note: string | null;
};

export const SUMMARY_COLUMNS = `job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp, error,
  first_failed_at, last_failed_at, recovery_attempts, poison_streak, recovery_note`;

/**
 * A filtered page looks at most this many failures (newest first): a filter that matches little
 * answers a short page with a cursor to go on from, instead of holding the ledger for a scan of
 * every row.
 */
export const SCAN_BUDGET = 10_000;

export function listFailures(sql: SqlStorage, tenantId: string, query: FailureQuery, scanBudget = SCAN_BUDGET): FailurePage {
  const filter = filterTerms(query);
  const search = searchTerms(query);
  const filters = [...filter.where, ...search.where];
  const filterParams = [...filter.params, ...search.params];
  const position: string[] = [];
  const positionParams: (string | number)[] = [];
  if (query.after) {
    position.push(`(last_failed_at, job_id) < (?, ?)`);
    positionParams.push(query.after.lastFailedAt, query.after.jobId);
  }
  const positionWhere = position.length ? `WHERE ${position.join(" AND ")}` : "";
  // The newest failures after the cursor, at most scanBudget of them (the recent index walks them in order).
  const window = `SELECT * FROM failures ${positionWhere} ORDER BY last_failed_at DESC, job_id DESC LIMIT ${scanBudget}`;
  const rows = sql
    .exec<FailureRow>(
      filters.length === 0
        ? `SELECT ${SUMMARY_COLUMNS} FROM failures ${positionWhere} ORDER BY last_failed_at DESC, job_id DESC LIMIT ?`
        : `SELECT ${SUMMARY_COLUMNS} FROM (${window}) WHERE ${filters.join(" AND ")} ORDER BY last_failed_at DESC, job_id DESC LIMIT ?`,
      ...positionParams,
      ...filterParams,
      query.limit + 1,
    )
    .toArray();
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  if (rows.length > query.limit && last) {
    return { items: page.map((row) => toSummary(tenantId, row)), next: { lastFailedAt: last.last_failed_at, jobId: last.job_id } };
  }
  // Short page: if the budget ran out before the failures did, go on from the last one looked at.
  const [edge, beyond] =
    filters.length === 0
      ? []
      : sql
          .exec<{ last_failed_at: number; job_id: string }>(
            `SELECT last_failed_at, job_id FROM failures ${positionWhere} ORDER BY last_failed_at DESC, job_id DESC LIMIT 2 OFFSET ${scanBudget - 1}`,
            ...positionParams,
          )
          .toArray();
  return {
    items: page.map((row) => toSummary(tenantId, row)),
    next: edge && beyond ? { lastFailedAt: edge.last_failed_at, jobId: edge.job_id } : null,
  };
}

export function getFailure(sql: SqlStorage, tenantId: string, jobId: string): FailureDetail | null {
  const row = sql
    .exec<FailureRow & { body: string; body_encoding: "json" | "base64" }>(
      `SELECT ${SUMMARY_COLUMNS}, body, body_encoding FROM failures WHERE job_id = ?`,
      jobId,
    )
    .toArray()[0];
  if (!row) return null;
  return {
    ...toSummary(tenantId, row),
    body: row.body,
    bodyEncoding: row.body_encoding,
  };
}

type GroupRow = {
  fingerprint: string;
  queue: string;
  class: FailureClass;
  error_name: string;
  message_sample: string;
  sample_job_id: string;
  count: number;
  first_seen: number;
  last_seen: number;
};

/** A group row's fields, times in ms: what the API and the D1 flush both start from. */
function groupFields(g: GroupRow) {
  return {
    fingerprint: g.fingerprint,
    queue: g.queue,
    class: g.class,
    errorName: g.error_name,
    messageSample: g.message_sample,
    sampleJobId: g.sample_job_id,
    count: g.count,
    firstSeen: g.first_seen,
    lastSeen: g.last_seen,
  };
}

export function readGroups(sql: SqlStorage, fingerprints: readonly string[]) {
  return inChunks(fingerprints, (chunk, placeholders) =>
    sql.exec<GroupRow>(`SELECT * FROM groups WHERE fingerprint IN (${placeholders})`, ...chunk).toArray(),
  ).map(groupFields);
}

export function listGroups(sql: SqlStorage, limit: number): GroupSummary[] {
  return sql
    .exec<GroupRow>(`SELECT * FROM groups ORDER BY last_seen DESC, fingerprint LIMIT ?`, limit)
    .toArray()
    .map((g) => toGroupSummary(groupFields(g)));
}

/** These groups as the groups list shows them, most recently seen first. */
export function groupSummaries(sql: SqlStorage, fingerprints: readonly string[]): GroupSummary[] {
  return readGroups(sql, fingerprints)
    .sort((a, b) => b.lastSeen - a.lastSeen || a.fingerprint.localeCompare(b.fingerprint))
    .map(toGroupSummary);
}

function toGroupSummary(fields: ReturnType<typeof groupFields>): GroupSummary {
  return { ...fields, firstSeen: iso(fields.firstSeen), lastSeen: iso(fields.lastSeen) };
}

/** These failures (the ones still held) as the failures list shows them, newest first. */
export function failureSummaries(sql: SqlStorage, tenantId: string, jobIds: readonly string[]): FailureSummary[] {
  return inChunks(jobIds, (chunk, placeholders) =>
    sql.exec<FailureRow>(`SELECT ${SUMMARY_COLUMNS} FROM failures WHERE job_id IN (${placeholders})`, ...chunk).toArray(),
  )
    .sort((a, b) => b.last_failed_at - a.last_failed_at || (a.job_id < b.job_id ? 1 : -1))
    .map((row) => toSummary(tenantId, row));
}

/** A failure row's fields, times in ms: what the API summary and the D1 flush both start from. */
export function failureFields(row: FailureRow): FailureFields {
  return {
    jobId: row.job_id,
    userId: row.user_id,
    queue: row.queue,
    class: row.class,
    reason: row.reason,
    status: row.status,
    attempts: row.attempts,
    occurrences: row.occurrences,
    group: row.group_fp,
    error: row.error ? (JSON.parse(row.error) as ErrorInfo) : null,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  };
}

function toSummary(tenantId: string, row: FailureRow): FailureSummary {
  const fields = failureFields(row);
  return {
    ...fields,
    tenantId,
    firstFailedAt: iso(fields.firstFailedAt),
    lastFailedAt: iso(fields.lastFailedAt),
    recovery: { attempts: row.recovery_attempts, poison: row.poison_streak >= POISON_STREAK, note: row.recovery_note },
  };
}

const iso = (ms: number) => new Date(ms).toISOString();
