// Output of the `dlq` CLI: tables for people, CSV and NDJSON for tools, a progress bar for
// long runs. No colours, no dependencies.

/**
 * @typedef {{ write(chunk: string): unknown, isTTY?: boolean, columns?: number }} Out
 */

/** @param {unknown} value */
const cell = (value) => (value === null || value === undefined ? "-" : String(value).replace(/\s+/g, " "));

/**
 * Left-aligned columns; the last column is cut to the terminal width when there is one.
 * @param {string[]} headers
 * @param {unknown[][]} rows
 * @param {number} [width] terminal columns
 */
export function table(headers, rows, width) {
  const text = rows.map((r) => r.map(cell));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]?.length ?? 0)));
  const last = widths.length - 1;
  if (width && last > 0) {
    const fixed = widths.slice(0, last).reduce((a, b) => a + b + 2, 0);
    widths[last] = Math.max(headers[last]?.length ?? 0, Math.min(widths[last] ?? 0, width - fixed));
  }
  /** @param {string[]} r */
  const line = (r) =>
    r
      .map((c, i) => {
        const w = widths[i] ?? 0;
        const cut = c.length > w ? `${c.slice(0, Math.max(0, w - 1))}…` : c;
        return i === last ? cut : cut.padEnd(w);
      })
      .join("  ");
  return [line(headers), ...text.map(line)].join("\n") + "\n";
}

/** "RECOVERABLE 4 · USER_ERROR 2" for the non-zero entries (or "none"). @param {Record<string, number>} counts */
export function counts(counts) {
  const parts = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(" · ") : "none";
}

/** "3 min ago" @param {string | null | undefined} iso @param {number} now */
export function ago(iso, now) {
  if (!iso) return "-";
  const s = Math.round((now - Date.parse(iso)) / 1000);
  if (!Number.isFinite(s)) return iso;
  if (s < 0) return iso;
  if (s < 90) return `${s} s ago`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`;
  if (s < 36 * 3600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export const CSV_COLUMNS = [
  "jobId",
  "tenantId",
  "userId",
  "queue",
  "class",
  "status",
  "reason",
  "attempts",
  "occurrences",
  "group",
  "errorName",
  "errorMessage",
  "errorStatus",
  "firstFailedAt",
  "lastFailedAt",
  "recoveryAttempts",
  "poison",
  "recoveryNote",
];

/**
 * One RFC 4180 field. Text that a spreadsheet would run as a formula (= + - @ at the start) is
 * prefixed with ' so that opening an export cannot execute what a failed job wrote.
 * @param {unknown} value
 */
export function csvField(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** @param {import("../contract/schemas").FailureSummary} f a failure summary from the API */
export function csvRow(f) {
  return (
    [
      f.jobId,
      f.tenantId,
      f.userId,
      f.queue,
      f.class,
      f.status,
      f.reason,
      f.attempts,
      f.occurrences,
      f.group,
      f.error?.name,
      f.error?.message,
      f.error?.status,
      f.firstFailedAt,
      f.lastFailedAt,
      f.recovery?.attempts,
      f.recovery?.poison,
      f.recovery?.note,
    ]
      .map(csvField)
      .join(",") + "\r\n"
  );
}

/**
 * A one-line progress bar redrawn in place on a terminal; nothing at all elsewhere.
 * @param {Out} out
 * @param {{ enabled: boolean, label: string, now?: () => number }} options
 */
export function progress(out, options) {
  const now = options.now ?? Date.now;
  const started = now();
  let drawn = false;
  return {
    /** @param {number} done @param {number | null} total */
    update(done, total) {
      if (!options.enabled) return;
      const seconds = Math.max((now() - started) / 1000, 0.001);
      const rate = `${(done / seconds).toFixed(1)}/s`;
      let line;
      if (total && total > 0) {
        const share = Math.min(1, done / total);
        const filled = Math.round(share * 24);
        line = `${options.label} [${"#".repeat(filled)}${".".repeat(24 - filled)}] ${Math.round(share * 100)}% ${done}/${total} ${rate}`;
      } else {
        line = `${options.label} ${done} ${rate}`;
      }
      out.write(`\r${line}\x1b[K`);
      drawn = true;
    },
    done() {
      if (drawn) out.write("\r\x1b[K");
      drawn = false;
    },
  };
}
