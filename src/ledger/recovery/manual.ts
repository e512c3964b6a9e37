// Recovery by a person: requeue one job now (or after a delay), or abandon it with a reason.
// Both are recorded with who and when; abandoned and recovered failures are never retried.

import type { RecoveryConfig } from "../../config";
import { keepRefFields } from "../archive-refs";
import type { Change } from "../change";
import type { LedgerCore } from "../core";
import { counterKey } from "../aggregates/counters";
import { Refused } from "../refusal";
import { scheduleAt, unschedule } from "../scheduler";
import { logAction, readRecoveryRows, setStatus, type RecoveryRow } from "./context";
import { sendBlocker } from "./policy";
import { getFailure, type FailureDetail } from "../queries";
import { identityBlocker, prepareReplacement, previousBodySha256, type PreparedReplacement, type Replacement } from "./replace";
import { sendToOrigins } from "./send";

export interface Actor {
  actor: string;
  operationId?: string;
}

/** Why `row` may not be requeued, or null. With a replacement body, its own body need not be sendable. */
export function requeueBlocker(config: RecoveryConfig, env: Env, row: RecoveryRow | undefined, replaced = false): string | null {
  if (!row) return "no such failure";
  if (row.status === "abandoned" || row.status === "recovered") {
    return `the failure is ${row.status}; abandoned and recovered failures are never retried`;
  }
  const sendable = replaced || row.body_redacted !== 1 || row.sealed_body !== null;
  return sendBlocker({ queue: row.queue, bodyRedacted: !sendable, hasSealedBody: false }, config, env);
}

/** Bookkeeping after a manual send: the job waits for its outcome like an automatic retry. */
export function markRequeued(
  c: Change,
  row: RecoveryRow,
  by: Actor,
  delaySeconds: number,
  detail: Record<string, string | number> = {},
): void {
  const sql = c.sql;
  setStatus(c, row.job_id, row.status, "retrying");
  sql.exec(`UPDATE failures SET last_retry_at = ?, retry_in_flight = NULL WHERE job_id = ?`, c.now, row.job_id);
  unschedule(sql, "retry", row.job_id);
  scheduleAt(sql, "presume", row.job_id, c.now + delaySeconds * 1000 + c.settings.recovery.presumeAfterMs);
  c.circuits.release(row.queue, row.job_id, c.now);
  logAction(sql, { jobId: row.job_id, operationId: by.operationId, action: "requeue", actor: by.actor, at: c.now, detail: { delaySeconds, ...detail } });
  c.deltas.add(counterKey.manualRequeues, 1);
}

export function markAbandoned(c: Change, row: RecoveryRow, by: Actor, reason: string): void {
  const sql = c.sql;
  setStatus(c, row.job_id, row.status, "abandoned");
  sql.exec(`UPDATE failures SET sealed_body = NULL, retry_in_flight = NULL, recovery_note = ? WHERE job_id = ?`, `abandoned: ${reason}`, row.job_id);
  unschedule(sql, "retry", row.job_id);
  unschedule(sql, "presume", row.job_id);
  c.circuits.release(row.queue, row.job_id, c.now);
  logAction(sql, { jobId: row.job_id, operationId: by.operationId, action: "abandon", actor: by.actor, at: c.now, detail: { reason } });
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
  const row = readRecoveryRows(core.sql, [jobId]).get(jobId);
  if (!row) throw new Refused("not_found", `no failure with jobId ${JSON.stringify(jobId)} in this tenant`);
  const blocked =
    requeueBlocker(core.settings.recovery, core.env, row, replacement !== undefined) ?? (replacement ? identityBlocker(row, replacement.send) : null);
  if (blocked) throw new Refused("conflict", `cannot requeue ${jobId}: ${blocked}`);
  const previous = replacement ? await previousBodySha256(core.env, row) : null;

  const outgoing = replacement
    ? { ...replacement.send, sealedBody: null }
    : { body: row.body, bodyEncoding: row.body_encoding, sealedBody: row.sealed_body };
  const errors = await sendToOrigins(core.env, core.settings.recovery, [{ jobId, queue: row.queue, ...outgoing, delaySeconds }]);
  const error = errors.get(jobId);
  if (error) throw new Refused("send_failed", `${error}; nothing was changed, try again`);

  core.transact((c) => {
    // Re-read: the job may have changed while the send was in flight.
    const current = readRecoveryRows(c.sql, [jobId]).get(jobId);
    if (current && replacement && previous) {
      const { body, bodyEncoding, bodyRedacted, sealedBody } = replacement.stored;
      // The body that failed is archived as it came, whatever replaces it here.
      const ref = c.sql.exec<{ archive_ref: number | null }>(`SELECT archive_ref FROM failures WHERE job_id = ?`, jobId).one().archive_ref;
      if (ref !== null) keepRefFields(c.sql, jobId, ref);
      c.sql.exec(
        `UPDATE failures SET body = ?, body_encoding = ?, body_redacted = ?, sealed_body = ?, archive_ref = NULL WHERE job_id = ?`,
        body,
        bodyEncoding,
        bodyRedacted ? 1 : 0,
        sealedBody,
        jobId,
      );
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
  const row = readRecoveryRows(c.sql, [jobId]).get(jobId);
  if (!row) throw new Refused("not_found", `no failure with jobId ${JSON.stringify(jobId)} in this tenant`);
  if (row.status === "abandoned") return;
  markAbandoned(c, row, by, reason);
}

/** Requeue by a person (edit and requeue with `replacement`): the failure as it is afterwards. */
export async function requeueJob(core: LedgerCore, jobId: string, by: Actor, delaySeconds = 0, replacement?: Replacement): Promise<FailureDetail> {
  const prepared = replacement && (await prepareReplacement(core.env, replacement));
  await requeueOne(core, jobId, by, delaySeconds, prepared);
  return getFailure(core.sql, core.tenant, jobId)!;
}

export function abandonJob(core: LedgerCore, jobId: string, by: Actor, reason: string): FailureDetail {
  core.transact((c) => abandonOne(c, jobId, by, reason));
  return getFailure(core.sql, core.tenant, jobId)!;
}

export interface ActionEntry {
  action: string;
  actor: string;
  at: string;
  operationId: string | null;
  detail: Record<string, string | number | null> | null;
}

export function history(sql: SqlStorage, jobId: string, limit = 50): ActionEntry[] {
  return sql
    .exec<{ action: string; actor: string; at: number; operation_id: string | null; detail: string | null }>(
      `SELECT action, actor, at, operation_id, detail FROM actions WHERE job_id = ? ORDER BY id DESC LIMIT ?`,
      jobId,
      limit,
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
