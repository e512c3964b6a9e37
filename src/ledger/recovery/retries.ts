// Automatic recovery, driven by the alarm: send due retries (through the circuit breaker), presume
// quiet ones recovered, and take success reports from the capture helper.

import { faultPoint } from "../../faults";
import { counterKey } from "../counters";
import { touchOutbox } from "../outbox";
import { isScheduled, scheduleAt, unschedule } from "../scheduler";
import { CounterDeltas, logAction, readRecoveryRows, setStatus, type RecoveryContext } from "./context";
import { backoffMs, policyFor } from "./policy";
import { sendToOrigins, type Outgoing } from "./send";

export async function sendDueRetries(c: RecoveryContext, jobIds: readonly string[]): Promise<void> {
  const sql = c.storage.sql;
  const outgoing: (Outgoing & { attempt: number })[] = [];
  c.storage.transactionSync(() => {
    const deltas = new CounterDeltas();
    const rows = readRecoveryRows(sql, jobIds);
    for (const jobId of jobIds) {
      const row = rows.get(jobId);
      if (!row || row.status !== "retrying") {
        unschedule(sql, "retry", jobId);
        continue;
      }
      const admission = c.circuits.admit(row.queue, jobId, c.now);
      if (!admission.send) {
        scheduleAt(sql, "retry", jobId, admission.until);
        continue;
      }
      const attempt = row.recovery_attempts + 1;
      // Marked before sending: if we crash before the bookkeeping below, the next run knows this is a resend.
      if (row.retry_in_flight === attempt) deltas.add(counterKey.resends, 1);
      sql.exec(`UPDATE failures SET retry_in_flight = ? WHERE job_id = ?`, attempt, jobId);
      outgoing.push({ jobId, queue: row.queue, body: row.body, bodyEncoding: row.body_encoding, sealedBody: row.sealed_body, attempt });
    }
    deltas.apply(sql, c.now);
  });
  if (outgoing.length === 0) return;

  const errors = await sendToOrigins(c.env, c.config, outgoing);
  faultPoint("recovery.after-send", outgoing[0]?.queue);

  c.storage.transactionSync(() => {
    const deltas = new CounterDeltas();
    const sent: string[] = [];
    for (const item of outgoing) {
      const error = errors.get(item.jobId);
      if (error) {
        sql.exec(`UPDATE failures SET retry_in_flight = NULL WHERE job_id = ?`, item.jobId);
        scheduleAt(sql, "retry", item.jobId, c.now + backoffMs(policyFor(c.config, item.queue), item.attempt, c.random));
        deltas.add(counterKey.sendFailures, 1);
        console.warn(`retry of ${item.jobId} not sent, backing off: ${error}`);
        continue;
      }
      sql.exec(
        `UPDATE failures SET recovery_attempts = ?, retry_in_flight = NULL, last_retry_at = ? WHERE job_id = ?`,
        item.attempt,
        c.now,
        item.jobId,
      );
      unschedule(sql, "retry", item.jobId);
      scheduleAt(sql, "presume", item.jobId, c.now + c.config.presumeAfterMs);
      deltas.add(counterKey.retriesSent, 1);
      sent.push(item.jobId);
    }
    touchOutbox(sql, sent, c.now, c.flushAt);
    deltas.apply(sql, c.now);
  });
}

/** A retried job that stayed quiet since its retry is presumed recovered. */
export function presumeRecovered(c: RecoveryContext, jobIds: readonly string[]): void {
  const sql = c.storage.sql;
  const deltas = new CounterDeltas();
  const presumed: string[] = [];
  const rows = readRecoveryRows(sql, jobIds);
  for (const jobId of jobIds) {
    unschedule(sql, "presume", jobId);
    const row = rows.get(jobId);
    if (!row || row.status !== "retrying" || isScheduled(sql, "retry", jobId)) continue;
    setStatus(sql, deltas, jobId, row.status, "presumed_recovered");
    sql.exec(`UPDATE failures SET sealed_body = NULL WHERE job_id = ?`, jobId);
    c.circuits.recovered(row.queue, jobId, c.now);
    deltas.add(counterKey.presumed, 1);
    presumed.push(jobId);
  }
  touchOutbox(sql, presumed, c.now, c.flushAt);
  deltas.apply(sql, c.now);
}

/** The capture helper saw these jobs succeed. Returns the ones that were failures here. */
export function markRecovered(c: RecoveryContext, jobIds: readonly string[], actor: string): string[] {
  const sql = c.storage.sql;
  const deltas = new CounterDeltas();
  const recovered: string[] = [];
  const rows = readRecoveryRows(sql, jobIds);
  for (const jobId of new Set(jobIds)) {
    const row = rows.get(jobId);
    if (!row || row.status === "recovered" || row.status === "abandoned") continue;
    setStatus(sql, deltas, jobId, row.status, "recovered");
    sql.exec(`UPDATE failures SET sealed_body = NULL, retry_in_flight = NULL WHERE job_id = ?`, jobId);
    unschedule(sql, "retry", jobId);
    unschedule(sql, "presume", jobId);
    c.circuits.recovered(row.queue, jobId, c.now);
    logAction(sql, { jobId, action: "recovered", actor, at: c.now });
    deltas.add(counterKey.recovered, 1);
    recovered.push(jobId);
  }
  touchOutbox(sql, recovered, c.now, c.flushAt);
  deltas.apply(sql, c.now);
  return recovered;
}
