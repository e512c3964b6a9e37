import type { RecoveryConfig } from "../../config";
import type { FailureStatus } from "../../model";
import { inChunks } from "../chunks";
import { CounterDeltas, counterKey } from "../counters";
import { statusChanged } from "../order-lists";
import type { Circuits } from "./circuit";

/** What recovery code needs from the ledger for one event. */
export interface RecoveryContext {
  storage: DurableObjectStorage;
  env: Env;
  config: RecoveryConfig;
  circuits: Circuits;
  now: number;
  random: () => number;
  /** When a status change should reach D1 at the latest. */
  flushAt: number;
}

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

/** Moves a failure to `to`, keeping the status counters in step. */
export function setStatus(sql: SqlStorage, deltas: CounterDeltas, jobId: string, from: FailureStatus, to: FailureStatus): void {
  if (from === to) return;
  sql.exec(`UPDATE failures SET status = ? WHERE job_id = ?`, to, jobId);
  statusChanged(sql, [jobId], to);
  deltas.move(counterKey.byStatus(from), counterKey.byStatus(to));
}

export function logAction(
  sql: SqlStorage,
  entry: { jobId: string | null; operationId?: string; action: string; actor: string; at: number; detail?: unknown },
): void {
  sql.exec(
    `INSERT INTO actions (job_id, operation_id, action, actor, at, detail) VALUES (?, ?, ?, ?, ?, ?)`,
    entry.jobId,
    entry.operationId ?? null,
    entry.action,
    entry.actor,
    entry.at,
    entry.detail === undefined ? null : JSON.stringify(entry.detail),
  );
}

export { CounterDeltas };
