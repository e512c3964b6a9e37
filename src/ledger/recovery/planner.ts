// What a new occurrence means for a failure's recovery: schedule the next retry, give up
// (exhausted), hand it to people (open), or leave a decision a person already made.

import type { FailureInput, FailureStatus } from "../../model";
import type { Change } from "../change";
import { isScheduled, scheduleAt, unschedule } from "../scheduler";
import { backoffMs, policyFor, retryBlocker } from "./policy";

/** Failing with the same fingerprint right after this many retries in a row flags a job as poison. */
export const POISON_STREAK = 2;

export type Prior = {
  status: FailureStatus;
  /** The failure's origin queue as first recorded (a later raw dead-letter can only guess it). */
  queue: string;
  recovery_attempts: number;
  group_fp: string;
  poison_streak: number;
};

export interface Plan {
  status: FailureStatus;
  recoveryAttempts: number;
  poisonStreak: number;
  /** Why the failure is not (or no longer) retried automatically; undefined keeps the old note. */
  note?: string | null;
  /** This occurrence came right after a recovery retry. */
  refailed: boolean;
}

export function planOccurrence(c: Change, f: FailureInput, prior: Prior | null): Plan {
  const queue = prior?.queue ?? f.queue;
  const blocker = retryBlocker(
    { class: f.class, queue, bodyRedacted: f.bodyRedacted === true, hasSealedBody: f.sealedBody !== undefined },
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
  const keep: Plan = { status: prior.status, recoveryAttempts: prior.recovery_attempts, poisonStreak: prior.poison_streak, refailed: false };
  switch (prior.status) {
    case "abandoned":
    case "exhausted":
      return keep;
    case "recovered":
    case "presumed_recovered":
      return startFrom(0, 0, false);
    case "open":
      return startFrom(prior.recovery_attempts, prior.poison_streak, false);
    case "retrying": {
      // Dead-lettered again while its retry is still waiting: the same failure seen twice.
      if (isScheduled(c.sql, "retry", f.jobId)) return keep;
      c.circuits.failed(queue, f.jobId, c.now);
      unschedule(c.sql, "presume", f.jobId);
      const poisonStreak = f.fingerprint === prior.group_fp ? prior.poison_streak + 1 : 0;
      const max = policyFor(c.settings.recovery, queue).maxAttempts;
      if (!blocker && prior.recovery_attempts >= max) {
        return { status: "exhausted", recoveryAttempts: prior.recovery_attempts, poisonStreak, note: `gave up after ${max} recovery attempts`, refailed: true };
      }
      return startFrom(prior.recovery_attempts, poisonStreak, true);
    }
  }
}
