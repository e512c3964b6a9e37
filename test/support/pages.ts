import { listFailures } from "../../src/ledger/store/pages";
import type { FailureQuery } from "../../src/ledger/store";

/** Every page of `query` from inside the ledger, following its cursors: the job ids of each page. */
export function pagesOf(sql: SqlStorage, tenant: string, query: Omit<FailureQuery, "limit" | "after">, limit: number, scanBudget?: number): string[][] {
  const pages: string[][] = [];
  let after: FailureQuery["after"];
  for (let n = 0; n < 1000; n++) {
    const page = listFailures(sql, tenant, { ...query, limit, after }, scanBudget);
    pages.push(page.items.map((i) => i.jobId));
    if (!page.next) return pages;
    after = page.next;
  }
  throw new Error("the cursor never ended");
}

/** The job ids of every page of `query`, in the order served. */
export const walk = (...args: Parameters<typeof pagesOf>): string[] => pagesOf(...args).flat();

/** The failures matching `where` (SQL over the failures table) by a scan, newest first. */
export function scanned(sql: SqlStorage, where = "1", ...params: (string | number | null)[]): string[] {
  return sql
    .exec<{ job_id: string }>(`SELECT job_id FROM failures WHERE ${where} ORDER BY last_failed_at DESC, job_id DESC`, ...params)
    .toArray()
    .map((r) => r.job_id);
}
