// What a new occurrence means for a failure's recovery: schedule the next retry, give up
// (exhausted), hand it to people (open), or leave a decision a person already made.

import type { FailureInput } from "../../model";
import type { HeldFailure, RecoveryPlan } from "../store";
import type { Change } from "../change";
import { isScheduled, scheduleAt, unschedule } from "../scheduler";
import { backoffMs, policyFor, retryBlocker } from "./policy";

/** What the planner needs of a failure held already. */
export type Prior = Pick<HeldFailure, "status" | "queue" | "recoveryAttempts" | "group" | "poisonStreak" | "lastFailedAt" | "bodyRedacted" | "hasSealedBody">;

export interface Plan extends RecoveryPlan {
  /** This occurrence came right after a recovery retry. */
  refailed: boolean;
}

export function planOccurrence(c: Change, f: FailureInput, prior: Prior | null): Plan {
  const queue = prior?.queue ?? f.queue;
  // A retry sends the body the row keeps: this occurrence's only when it is the latest (an
  // occurrence that arrives late leaves the stored body, perhaps redacted with its seal dropped).
  const sent = !prior || f.lastFailedAt >= prior.lastFailedAt ? { bodyRedacted: f.bodyRedacted === true, hasSealedBody: f.sealedBody !== undefined } : prior;
  const blocker = retryBlocker(
    { class: f.class, queue, bodyRedacted: sent.bodyRedacted, hasSealedBody: sent.hasSealedBody },
    c.settings.recovery,
    c.env,
  );
  const startFrom = (recoveryAttempts: number, poisonStreak: number, refailed: boolean): Plan => {
    if (blocker) return { status: "open", recoveryAttempts, poisonStreak, note: f.class === "RECOVERABLE" ? blocker : null, refailed };
    const attempt = recoveryAttempts + 1;
    scheduleAt(c.sql, "retry", f.jobId, c.now + backoffMs(policyFor(c.settings.recovery, queue), attempt, c.random));
    return { status: "retrying", recoveryAttempts, poisonStreak, note: null, refailed };
  };

  if (!prior) return startFrom(0, 0, false);
  const keep: Plan = { status: prior.status, recoveryAttempts: prior.recoveryAttempts, poisonStreak: prior.poisonStreak, refailed: false };
  switch (prior.status) {
    case "abandoned":
    case "exhausted":
      return keep;
    case "recovered":
    case "presumed_recovered":
      return startFrom(0, 0, false);
    case "open":
      return startFrom(prior.recoveryAttempts, prior.poisonStreak, false);
    case "retrying": {
      // Dead-lettered again while its retry is still waiting: the same failure seen twice.
      if (isScheduled(c.sql, "retry", f.jobId)) return keep;
      c.circuits.failed(queue, f.jobId, c.now);
      unschedule(c.sql, "presume", f.jobId);
      const poisonStreak = f.fingerprint === prior.group ? prior.poisonStreak + 1 : 0;
      const max = policyFor(c.settings.recovery, queue).maxAttempts;
      if (!blocker && prior.recoveryAttempts >= max) {
        return { status: "exhausted", recoveryAttempts: prior.recoveryAttempts, poisonStreak, note: `gave up after ${max} recovery attempts`, refailed: true };
      }
      return startFrom(prior.recoveryAttempts, poisonStreak, true);
    }
  }
}
