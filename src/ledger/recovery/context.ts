// The two writes every recovery step makes besides its own: a status change (counters in step,
// D1 owed the new state) and an entry in the audit trail.

import type { FailureStatus } from "../../model";
import { counterKey } from "../aggregates/counters";
import type { Change } from "../change";
import { run, sql } from "../../sql";

/** Moves a failure to `to`, keeping the status counters in step; D1 is owed the job's new state. */
export function setStatus(c: Change, jobId: string, from: FailureStatus, to: FailureStatus): void {
  c.owe([jobId]);
  if (from === to) return;
  c.store.setStatus(jobId, to);
  c.deltas.move(counterKey.byStatus(from), counterKey.byStatus(to));
}

export function logAction(
  storage: SqlStorage,
  entry: { jobId: string | null; operationId?: string; action: string; actor: string; at: number; detail?: unknown },
): void {
  const detail = entry.detail === undefined ? null : JSON.stringify(entry.detail);
  run(
    storage,
    sql`INSERT INTO actions (job_id, operation_id, action, actor, at, detail)
      VALUES (${entry.jobId}, ${entry.operationId}, ${entry.action}, ${entry.actor}, ${entry.at}, ${detail})`,
  );
}
