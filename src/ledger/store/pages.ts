// Read paths of the ledger: a failures page (keyset pagination, newest first), one failure,
// the groups. All are served from the ledger's own tables, live.

import type * as Api from "../../contract/schemas";
import { POISON_STREAK, fieldsOf, type ErrorInfo, type FailureColumns, type FailureFields, type FailureStatus } from "../../model";
import { MAX_BOUND_PARAMETERS, fitting, run, sql, type Sql } from "../../sql";
import { counterKey, readCounters } from "../aggregates/counters";
import { filterClauses, jsonPath, type Entry, type FailureFilter, type FailureQuery, type FailureSearch, type PageCursor } from "./cursor";
import { MAX_LIST_ENTRIES, listEntries, orderList } from "./order-lists";
import { newestMatching } from "./time-order";

const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The terms of a search, checked against each row of the bounded window. */
function searchClauses(search: FailureSearch): Sql[] {
  const terms: Sql[] = [];
  if (search.q !== undefined) {
    const like = sql`LIKE ${`%${likeEscape(search.q)}%`} ESCAPE '\\'`;
    terms.push(
      sql`(job_id ${like} OR reason ${like} OR json_extract(error, '$.message') ${like}
        OR (body_encoding = 'json' AND body ${like}))`,
    );
  }
  if (search.field !== undefined) {
    const path = jsonPath(search.field.path);
    // json_extract gives true/false as 1/0: the JSON type keeps "true" and "1" apart.
    terms.push(
      sql`(body_encoding = 'json' AND CASE json_type(body, ${path}) WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' WHEN 'null' THEN 'null'
        ELSE CAST(json_extract(body, ${path}) AS TEXT) END = ${search.field.value})`,
    );
  }
  return terms;
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


type FailureRow = FailureColumns & {
  error: string | null;
  recovery_attempts: number;
  poison_streak: number;
  recovery_note: string | null;
};

const SUMMARY_COLUMNS = `job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp, error,
  first_failed_at, last_failed_at, recovery_attempts, poison_streak, recovery_note`;

/**
 * A filtered page looks at most this many failures (newest first): a filter that matches little
 * answers a short page with a cursor to go on from, instead of holding the ledger for a scan of
 * every row.
 */
export const SCAN_BUDGET = 10_000;
/** A search matches each body by LIKE, so its page looks at fewer: the same bound in time. */
const SEARCH_SCAN_BUDGET = 2_000;

const summaryColumns = sql.raw(SUMMARY_COLUMNS);

export function listFailures(
  storage: SqlStorage,
  tenantId: string,
  query: FailureQuery,
  scanBudget = query.q !== undefined || query.field !== undefined ? SEARCH_SCAN_BUDGET : SCAN_BUDGET,
  useLists = true,
): FailurePage {
  const counters = readCounters(storage);
  const groupCount = query.group === undefined ? undefined : storedGroupCount(storage, query.group);
  if (matchesNothing(counters, query, groupCount)) return { items: [], next: null };
  const filters = [...filterClauses(query), ...searchClauses(query)];
  for (const list of useLists ? shortLists(counters, query, groupCount, scanBudget) : []) {
    const candidates = listEntries(storage, list, query.after, MAX_LIST_ENTRIES);
    if (candidates) return listedPage(storage, tenantId, candidates, query, filters);
  }
  // The newest failures after the cursor in time order; a filtered page looks at scanBudget of them at most.
  const filter = filters.length > 0 ? sql.join(filters, " AND ") : undefined;
  const walk = newestMatching(storage, query.limit + 1, query.after, filter, scanBudget);
  const page = walk.found.slice(0, query.limit);
  const items = failureSummaries(storage, tenantId, page.map(([jobId]) => jobId));
  const last = page[page.length - 1];
  if (walk.found.length > query.limit && last) return { items, next: { lastFailedAt: last[1], jobId: last[0] } };
  return { items, next: walk.resume };
}

/** How many occurrences a group has had, or null when the ledger holds no such group. */
function storedGroupCount(storage: SqlStorage, fingerprint: string): number | null {
  return run<{ count: number }>(storage, sql`SELECT count FROM groups WHERE fingerprint = ${fingerprint}`).toArray()[0]?.count ?? null;
}

/**
 * The order lists a filtered page may read, fewest failures first: those of the filter's group,
 * class and status that the counters say hold at most `budget` failures (a filter that matches
 * many finds its page near the top of the window instead). A list longer than MAX_LIST_ENTRIES
 * is passed over when read.
 */
function shortLists(counters: Map<string, number>, filter: FailureFilter, groupCount: number | null | undefined, budget: number): string[] {
  const sizes: [string, number][] = [];
  if (filter.class !== undefined) sizes.push([orderList.class(filter.class), counters.get(counterKey.byClass(filter.class)) ?? 0]);
  if (filter.status !== undefined) sizes.push([orderList.status(filter.status), counters.get(counterKey.byStatus(filter.status)) ?? 0]);
  if (filter.group !== undefined) sizes.push([orderList.group(filter.group), groupCount ?? 0]);
  return sizes
    .filter(([, n]) => n <= budget)
    .sort((a, b) => a[1] - b[1])
    .map(([list]) => list);
}

/**
 * A page of the failures from one order list's entries that match every term: complete, no
 * budget. The entries are the candidates newest first; a candidate counts only if its failure
 * still has the entry's last_failed_at (else a newer entry names it) and matches the filters.
 */
function listedPage(storage: SqlStorage, tenantId: string, candidates: readonly Entry[], query: FailureQuery, filters: Sql[]): FailurePage {
  const rows: FailureRow[] = [];
  const step = Math.min(MAX_BOUND_PARAMETERS - filters.reduce((n, f) => n + f.params.length, 0), query.limit + 1);
  for (let i = 0; i < candidates.length && rows.length <= query.limit; i += step) {
    const chunk = candidates.slice(i, i + step);
    const found = new Map(
      run<FailureRow>(
        storage,
        sql`SELECT ${summaryColumns} FROM failures WHERE ${sql.join([sql`job_id IN ${sql.list(chunk.map(([id]) => id))}`, ...filters], " AND ")}`,
      )
        .toArray()
        .map((row) => [row.job_id, row]),
    );
    for (const [jobId, at] of chunk) {
      const row = found.get(jobId);
      if (row && row.last_failed_at === at && rows.length <= query.limit) rows.push(row);
    }
  }
  const page = rows.slice(0, query.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((row) => toSummary(tenantId, row)),
    next: rows.length > query.limit && last ? { lastFailedAt: last.last_failed_at, jobId: last.job_id } : null,
  };
}

/**
 * A filter the counters already answer: no failure was ever counted with this class, status or
 * queue (the counters keep evicted failures too, so zero means none is held), or no such group.
 */
function matchesNothing(counters: Map<string, number>, filter: FailureFilter, groupCount: number | null | undefined): boolean {
  const keys = [
    filter.class !== undefined && counterKey.byClass(filter.class),
    filter.status !== undefined && counterKey.byStatus(filter.status),
    filter.queue !== undefined && counterKey.byQueue(filter.queue),
  ].filter((k): k is string => k !== false);
  return keys.some((key) => (counters.get(key) ?? 0) <= 0) || groupCount === null;
}

export function getFailure(storage: SqlStorage, tenantId: string, jobId: string): FailureDetail | null {
  const row = run<FailureRow & { body: string; body_encoding: "json" | "base64" }>(
    storage,
    sql`SELECT ${summaryColumns}, body, body_encoding FROM failures WHERE job_id = ${jobId}`,
  ).toArray()[0];
  if (!row) return null;
  return {
    ...toSummary(tenantId, row),
    body: row.body,
    bodyEncoding: row.body_encoding,
  };
}


/** These failures (the ones still held) as the failures list shows them, newest first. */
export function failureSummaries(storage: SqlStorage, tenantId: string, jobIds: readonly string[]): FailureSummary[] {
  return fitting(jobIds, 1)
    .flatMap((chunk) => run<FailureRow>(storage, sql`SELECT ${summaryColumns} FROM failures WHERE job_id IN ${sql.list(chunk)}`).toArray())
    .sort((a, b) => b.last_failed_at - a.last_failed_at || (a.job_id < b.job_id ? 1 : -1))
    .map((row) => toSummary(tenantId, row));
}

/** A failure row's fields, times in ms: what the API summary and the D1 flush both start from. */
function failureFields(row: FailureRow): FailureFields {
  return fieldsOf(row, row.error ? (JSON.parse(row.error) as ErrorInfo) : null);
}

/** These failures' fields (the ones still held), in no particular order. */
export function failureFieldsOf(storage: SqlStorage, jobIds: readonly string[]): FailureFields[] {
  return fitting(jobIds, 1)
    .flatMap((chunk) => run<FailureRow>(storage, sql`SELECT ${summaryColumns} FROM failures WHERE job_id IN ${sql.list(chunk)}`).toArray())
    .map(failureFields);
}

/** The failures matching every term and in none of the `excluded` statuses, as rows of (job_id, last_failed_at). */
export function matchingFailures(terms: readonly Sql[], excluded: readonly FailureStatus[]): Sql {
  const where = [...terms, ...(excluded.length > 0 ? [sql`status NOT IN ${sql.list(excluded)}`] : [])];
  return sql`(SELECT job_id, last_failed_at FROM failures${where.length > 0 ? sql` WHERE ${sql.join(where, " AND ")}` : sql``})`;
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
