// What bulk operations are and how they are read: the request a person makes, the stored row,
// and the view the API and the live feed show (operations.ts runs them).

import type { FailureFilter } from "../store";
import { run, sql } from "../../sql";

export type OperationAction = "requeue" | "abandon";

export interface OperationRequest {
  action: OperationAction;
  filter: FailureFilter;
  /** items per second */
  rate: number;
  reason?: string;
  delaySeconds?: number;
}

export interface OperationView {
  id: string;
  action: OperationAction;
  filter: FailureFilter;
  rate: number;
  status: "running" | "done";
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  errors: { jobId: string; error: string }[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}


export type OperationRow = {
  id: string;
  action: OperationAction;
  filter: string;
  rate: number;
  options: string;
  status: "running" | "done";
  total: number;
  next_seq: number;
  done: number;
  failed: number;
  actor: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
};

export function viewOperation(storage: SqlStorage, id: string): OperationView | null {
  const op = run<OperationRow>(storage, sql`SELECT * FROM operations WHERE id = ${id}`).toArray()[0];
  if (!op) return null;
  const errors = run<{ job_id: string; error: string }>(
    storage,
    sql`SELECT job_id, error FROM operation_items WHERE operation_id = ${id} AND state = 'failed' ORDER BY seq LIMIT 100`,
  )
    .toArray()
    .map((e) => ({ jobId: e.job_id, error: e.error }));
  return {
    id: op.id,
    action: op.action,
    filter: JSON.parse(op.filter) as FailureFilter,
    rate: op.rate,
    status: op.status,
    total: op.total,
    processed: op.next_seq,
    succeeded: op.done,
    failed: op.failed,
    errors,
    createdBy: op.actor,
    createdAt: new Date(op.created_at).toISOString(),
    updatedAt: new Date(op.updated_at).toISOString(),
    finishedAt: op.finished_at === null ? null : new Date(op.finished_at).toISOString(),
  };
}

/** The most recent operations, newest first. Operations are few (people start them), so a scan is fine. */
export function recentOperations(storage: SqlStorage, limit: number): OperationView[] {
  return run<{ id: string }>(storage, sql`SELECT id FROM operations ORDER BY created_at DESC, id LIMIT ${limit}`)
    .toArray()
    .flatMap((row) => viewOperation(storage, row.id) ?? []);
}
