// Automatic recovery, driven by the alarm: send due retries (through the circuit breaker), presume
// quiet ones recovered, and take success reports from the capture helper.

import { faultPoint } from "../../faults";
import type { Change } from "../change";
import type { LedgerCore } from "../core";
import { counterKey } from "../aggregates/counters";
import { isScheduled, scheduleAt, unschedule } from "../scheduler";
import { logAction, setStatus } from "./context";
import { backoffMs, policyFor } from "./policy";
import { sendToOrigins, type Outgoing } from "./send";

export async function sendDueRetries(core: LedgerCore, jobIds: readonly string[], now: number): Promise<void> {
  const outgoing = core.transact((c) => {
    const out: (Outgoing & { attempt: number })[] = [];
    const rows = c.store.recoveryViews(jobIds);
    for (const jobId of jobIds) {
      const row = rows.get(jobId);
      if (!row || row.status !== "retrying") {
        unschedule(c.sql, "retry", jobId);
        continue;
      }
      const admission = c.circuits.admit(row.queue, jobId, c.now);
      if (!admission.send) {
        scheduleAt(c.sql, "retry", jobId, admission.until);
        continue;
      }
      const attempt = row.recoveryAttempts + 1;
      // Marked before sending: if we crash before the bookkeeping below, the next run knows this is a resend.
      if (row.retryInFlight === attempt) c.deltas.add(counterKey.resends, 1);
      c.store.patchRecovery(jobId, { retryInFlight: attempt });
      out.push({ jobId, queue: row.queue, body: row.body, bodyEncoding: row.bodyEncoding, sealedBody: row.sealedBody, attempt });
    }
    return out;
  }, now);
  if (outgoing.length === 0) return;

  const errors = await sendToOrigins(core.env, core.settings.recovery, outgoing);
  faultPoint("recovery.after-send", outgoing[0]?.queue);

  core.transact((c) => {
    for (const item of outgoing) {
      const error = errors.get(item.jobId);
      if (error) {
        c.store.patchRecovery(item.jobId, { retryInFlight: null });
        scheduleAt(c.sql, "retry", item.jobId, c.now + backoffMs(policyFor(c.settings.recovery, item.queue), item.attempt, c.random));
        c.deltas.add(counterKey.sendFailures, 1);
        console.warn(`retry of ${item.jobId} not sent, backing off: ${error}`);
        continue;
      }
      c.store.patchRecovery(item.jobId, { recoveryAttempts: item.attempt, retryInFlight: null, lastRetryAt: c.now });
      unschedule(c.sql, "retry", item.jobId);
      scheduleAt(c.sql, "presume", item.jobId, c.now + c.settings.recovery.presumeAfterMs);
      c.deltas.add(counterKey.retriesSent, 1);
      c.owe([item.jobId]);
    }
  }, now);
}

/** A retried job that stayed quiet since its retry is presumed recovered. */
export function presumeRecovered(c: Change, jobIds: readonly string[]): void {
  const rows = c.store.recoveryViews(jobIds);
  for (const jobId of jobIds) {
    unschedule(c.sql, "presume", jobId);
    const row = rows.get(jobId);
    if (!row || row.status !== "retrying" || isScheduled(c.sql, "retry", jobId)) continue;
    setStatus(c, jobId, row.status, "presumed_recovered");
    c.store.patchRecovery(jobId, { sealedBody: null });
    c.circuits.recovered(row.queue, jobId, c.now);
    c.deltas.add(counterKey.presumed, 1);
  }
}

/** The capture helper saw these jobs succeed. Returns the ones that were failures here. */
export function markRecovered(c: Change, jobIds: readonly string[], actor: string): string[] {
  const recovered: string[] = [];
  const rows = c.store.recoveryViews(jobIds);
  for (const jobId of new Set(jobIds)) {
    const row = rows.get(jobId);
    if (!row || row.status === "recovered" || row.status === "abandoned") continue;
    setStatus(c, jobId, row.status, "recovered");
    c.store.patchRecovery(jobId, { sealedBody: null, retryInFlight: null });
    unschedule(c.sql, "retry", jobId);
    unschedule(c.sql, "presume", jobId);
    c.circuits.recovered(row.queue, jobId, c.now);
    logAction(c.sql, { jobId, action: "recovered", actor, at: c.now });
    c.deltas.add(counterKey.recovered, 1);
    recovered.push(jobId);
  }
  return recovered;
}
