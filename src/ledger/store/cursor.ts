// What a page of failures is asked for: a filter, a search, a cursor; and the order every page
// and list keeps, newest first by (last_failed_at, job_id).

import type { FailureClass, FailureStatus } from "../../model";
import { sql, type Sql } from "../../sql";

export interface FailureFilter {
  class?: FailureClass;
  queue?: string;
  status?: FailureStatus;
  group?: string;
  /** lastFailedAt range, epoch ms, inclusive */
  from?: number;
  to?: number;
}

/** The terms (to be AND-ed) selecting failures that match `filter`. */
export function filterClauses(filter: FailureFilter): Sql[] {
  const terms: Sql[] = [];
  if (filter.class !== undefined) terms.push(sql`class = ${filter.class}`);
  if (filter.queue !== undefined) terms.push(sql`queue = ${filter.queue}`);
  if (filter.status !== undefined) terms.push(sql`status = ${filter.status}`);
  if (filter.group !== undefined) terms.push(sql`group_fp = ${filter.group}`);
  if (filter.from !== undefined) terms.push(sql`last_failed_at >= ${filter.from}`);
  if (filter.to !== undefined) terms.push(sql`last_failed_at <= ${filter.to}`);
  return terms;
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

/** [job id, its last_failed_at] */
export type Entry = [string, number];

export const newestFirstOrder = (a: Entry, b: Entry) => b[1] - a[1] || (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0);
export const isAfter = (e: Entry, before?: PageCursor) =>
  !before || e[1] < before.lastFailedAt || (e[1] === before.lastFailedAt && e[0] < before.jobId);

