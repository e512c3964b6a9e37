// The failure rows recovery works on, and the two writes every recovery step makes: a status
// change (counters in step, D1 owed the new state) and an entry in the audit trail.

import type { FailureStatus } from "../../model";
import type { Change } from "../change";
import { inChunks } from "../chunks";
import { counterKey } from "../aggregates/counters";
import { run, sql as q } from "../../sql";

export type RecoveryRow = {
  job_id: string;
  status: FailureStatus;
  queue: string;
  class: string;
  body: string;
  body_encoding: "json" | "base64";
  body_redacted: number;
  sealed_body: string | null;
  recovery_attempts: number;
  retry_in_flight: number | null;
};

export function readRecoveryRows(sql: SqlStorage, jobIds: readonly string[]): Map<string, RecoveryRow> {
  const rows = inChunks(jobIds, (chunk, placeholders) =>
    sql
      .exec<RecoveryRow>(
        `SELECT job_id, status, queue, class, body, body_encoding, body_redacted, sealed_body, recovery_attempts, retry_in_flight
         FROM failures WHERE job_id IN (${placeholders})`,
        ...chunk,
      )
      .toArray(),
  );
  return new Map(rows.map((row) => [row.job_id, row]));
}

/** Moves a failure to `to`, keeping the status counters in step; D1 is owed the job's new state. */
export function setStatus(c: Change, jobId: string, from: FailureStatus, to: FailureStatus): void {
  c.owe([jobId]);
  if (from === to) return;
  c.sql.exec(`UPDATE failures SET status = ? WHERE job_id = ?`, to, jobId);
  c.statusChanged(jobId, to);
  c.deltas.move(counterKey.byStatus(from), counterKey.byStatus(to));
}

export function logAction(
  sql: SqlStorage,
  entry: { jobId: string | null; operationId?: string; action: string; actor: string; at: number; detail?: unknown },
): void {
  const detail = entry.detail === undefined ? null : JSON.stringify(entry.detail);
  run(
    sql,
    q`INSERT INTO actions (job_id, operation_id, action, actor, at, detail)
      VALUES (${entry.jobId}, ${entry.operationId}, ${entry.action}, ${entry.actor}, ${entry.at}, ${detail})`,
  );
}
