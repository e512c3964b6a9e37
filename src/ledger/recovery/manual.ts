// Recovery by a person: requeue one job now (or after a delay), or abandon it with a reason.
// Both are recorded with who and when; abandoned and recovered failures are never retried.

import type { RecoveryConfig } from "../../config";
import type { Change } from "../change";
import type { LedgerCore } from "../core";
import { counterKey } from "../aggregates/counters";
import { Refused } from "../refusal";
import { scheduleAt, unschedule } from "../scheduler";
import { logAction, setStatus } from "./context";
import { sendBlocker } from "./policy";
import { FailureStore, type FailureDetail, type RecoveryView } from "../store";
import { identityBlocker, prepareReplacement, previousBodySha256, type PreparedReplacement, type Replacement } from "./replace";
import { sendToOrigins } from "./send";
import { run, sql } from "../../sql";

export interface Actor {
  actor: string;
  operationId?: string;
}

/** Why `row` may not be requeued, or null. With a replacement body, its own body need not be sendable. */
export function requeueBlocker(config: RecoveryConfig, env: Env, row: RecoveryView | undefined, replaced = false): string | null {
  if (!row) return "no such failure";
  if (row.status === "abandoned" || row.status === "recovered") {
    return `the failure is ${row.status}; abandoned and recovered failures are never retried`;
  }
  const sendable = replaced || !row.bodyRedacted || row.sealedBody !== null;
  return sendBlocker({ queue: row.queue, bodyRedacted: !sendable, hasSealedBody: false }, config, env);
}

/** Bookkeeping after a manual send: the job waits for its outcome like an automatic retry. */
export function markRequeued(
  c: Change,
  row: RecoveryView,
  by: Actor,
  delaySeconds: number,
  detail: Record<string, string | number> = {},
): void {
  const storage = c.sql;
  setStatus(c, row.jobId, row.status, "retrying");
  c.store.patchRecovery(row.jobId, { lastRetryAt: c.now, retryInFlight: null });
  unschedule(storage, "retry", row.jobId);
  scheduleAt(storage, "presume", row.jobId, c.now + delaySeconds * 1000 + c.settings.recovery.presumeAfterMs);
  c.circuits.release(row.queue, row.jobId, c.now);
  logAction(storage, { jobId: row.jobId, operationId: by.operationId, action: "requeue", actor: by.actor, at: c.now, detail: { delaySeconds, ...detail } });
  c.deltas.add(counterKey.manualRequeues, 1);
}

export function markAbandoned(c: Change, row: RecoveryView, by: Actor, reason: string): void {
  const storage = c.sql;
  setStatus(c, row.jobId, row.status, "abandoned");
  c.store.patchRecovery(row.jobId, { sealedBody: null, retryInFlight: null, recoveryNote: `abandoned: ${reason}` });
  unschedule(storage, "retry", row.jobId);
  unschedule(storage, "presume", row.jobId);
  c.circuits.release(row.queue, row.jobId, c.now);
  logAction(storage, { jobId: row.jobId, operationId: by.operationId, action: "abandon", actor: by.actor, at: c.now, detail: { reason } });
  c.deltas.add(counterKey.abandoned, 1);
}

/**
 * Sends the job back: its own body, or `replacement` exactly as given (edit and requeue), which
 * then becomes the stored body (redacted) with both bodies' SHA-256 in the audit trail.
 */
export async function requeueOne(
  core: LedgerCore,
  jobId: string,
  by: Actor,
  delaySeconds = 0,
  replacement?: PreparedReplacement,
): Promise<void> {
  const row = FailureStore.readOnly(core.sql).recoveryViews([jobId]).get(jobId);
  if (!row) throw new Refused("not_found", `no failure with jobId ${JSON.stringify(jobId)} in this tenant`);
  const blocked =
    requeueBlocker(core.settings.recovery, core.env, row, replacement !== undefined) ?? (replacement ? identityBlocker(row, replacement.send) : null);
  if (blocked) throw new Refused("conflict", `cannot requeue ${jobId}: ${blocked}`);
  const previous = replacement ? await previousBodySha256(core.env, row) : null;

  const outgoing = replacement
    ? { ...replacement.send, sealedBody: null }
    : { body: row.body, bodyEncoding: row.bodyEncoding, sealedBody: row.sealedBody };
  const errors = await sendToOrigins(core.env, core.settings.recovery, [{ jobId, queue: row.queue, ...outgoing, delaySeconds }]);
  const error = errors.get(jobId);
  if (error) throw new Refused("send_failed", `${error}; nothing was changed, try again`);

  core.transact((c) => {
    // Re-read: the job may have changed while the send was in flight.
    const current = c.store.recoveryViews([jobId]).get(jobId);
    if (current && replacement && previous) {
      // The body that failed is archived as it came, whatever replaces it here.
      c.store.replaceBody(jobId, replacement.stored);
      markRequeued(c, current, by, delaySeconds, {
        bodyReplaced: "yes",
        oldBodySha256: previous.sha256,
        oldBodyHashOf: previous.of,
        newBodySha256: replacement.sha256,
      });
    } else if (current) markRequeued(c, current, by, delaySeconds);
    c.owe([jobId]);
  });
}

export function abandonOne(c: Change, jobId: string, by: Actor, reason: string): void {
  const row = c.store.recoveryViews([jobId]).get(jobId);
  if (!row) throw new Refused("not_found", `no failure with jobId ${JSON.stringify(jobId)} in this tenant`);
  if (row.status === "abandoned") return;
  markAbandoned(c, row, by, reason);
}

/** Requeue by a person (edit and requeue with `replacement`): the failure as it is afterwards. */
export async function requeueJob(core: LedgerCore, jobId: string, by: Actor, delaySeconds = 0, replacement?: Replacement): Promise<FailureDetail> {
  const prepared = replacement && (await prepareReplacement(core.env, replacement));
  await requeueOne(core, jobId, by, delaySeconds, prepared);
  return FailureStore.readOnly(core.sql).failure(core.tenant, jobId)!;
}

export function abandonJob(core: LedgerCore, jobId: string, by: Actor, reason: string): FailureDetail {
  core.transact((c) => abandonOne(c, jobId, by, reason));
  return FailureStore.readOnly(core.sql).failure(core.tenant, jobId)!;
}

export interface ActionEntry {
  action: string;
  actor: string;
  at: string;
  operationId: string | null;
  detail: Record<string, string | number | null> | null;
}

export function history(storage: SqlStorage, jobId: string, limit = 50): ActionEntry[] {
  return run<{ action: string; actor: string; at: number; operation_id: string | null; detail: string | null }>(
    storage,
    sql`SELECT action, actor, at, operation_id, detail FROM actions WHERE job_id = ${jobId} ORDER BY id DESC LIMIT ${limit}`,
  )
    .toArray()
    .map((a) => ({
      action: a.action,
      actor: a.actor,
      at: new Date(a.at).toISOString(),
      operationId: a.operation_id,
      detail: a.detail ? (JSON.parse(a.detail) as ActionEntry["detail"]) : null,
    }));
}
