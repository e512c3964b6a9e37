// Export of everything the current filter matches, paged through the API and saved as a file.

import { api, tenantQuery, type Failure, type FailurePage } from "./api";

/** Stops after this many failures; the CLI (`dlq export`) has no such limit. */
export const EXPORT_LIMIT = 50_000;

const COLUMNS = ["jobId", "tenantId", "userId", "queue", "class", "status", "reason", "attempts", "occurrences", "group", "errorName", "errorMessage", "firstFailedAt", "lastFailedAt"] as const;

function csvCell(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  // A leading = + - @ would run as a formula in a spreadsheet: quote it as text.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\n\r]/.test(safe) || safe !== text ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function row(f: Failure): string {
  const flat: Record<(typeof COLUMNS)[number], unknown> = { ...f, errorName: f.error?.name, errorMessage: f.error?.message };
  return COLUMNS.map((c) => csvCell(flat[c])).join(",");
}

export async function exportFailures(tenant: string, filters: Record<string, string | undefined>, format: "csv" | "ndjson"): Promise<number> {
  const lines: string[] = format === "csv" ? [COLUMNS.join(",")] : [];
  let cursor: string | null | undefined = undefined;
  let count = 0;
  do {
    const page: FailurePage = await api<FailurePage>("/api/queue/dlq/failures", { query: tenantQuery(tenant, { ...filters, limit: 500, cursor }) });
    for (const f of page.items) lines.push(format === "csv" ? row(f) : JSON.stringify(f));
    count += page.items.length;
    cursor = page.nextCursor;
  } while (cursor && count < EXPORT_LIMIT);
  const blob = new Blob([lines.join("\n") + "\n"], { type: format === "csv" ? "text/csv" : "application/x-ndjson" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = `failures-${tenant}-${new Date().toISOString().replaceAll(":", "-").slice(0, 19)}.${format}`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
  return count;
}
