// Recording a batch of failures for one tenant. Runs inside one transactionSync: either the
// whole batch (failures, groups, counters, recovery schedule) is durable or none of it is.

import { faultPoint } from "../faults";
import { POISON_STREAK, type FailureInput, type FailureStatus } from "../model";
import { counterKey } from "./aggregates/counters";
import type { Change } from "./change";
import type { LedgerCore } from "./core";
import { alertsForBatch } from "./notify/ops";
import { noticeForFailure } from "./notify/users";
import { reserveOutboxIds } from "./outbox";
import { planOccurrence } from "./recovery/planner";
import { afterRecord } from "./retention";
import type { GroupDelta, Regression } from "./store";

export interface RecordResult {
  /** failures seen for the first time */
  created: number;
  /** new occurrences of failures already in the ledger */
  repeated: number;
  /** redeliveries of an occurrence already recorded: counted once, ignored */
  duplicates: number;
}

/** What one accepted occurrence did, for notifications and alerts. */
export interface RecordedOccurrence {
  failure: FailureInput;
  previousStatus: FailureStatus | null;
  status: FailureStatus;
  /** This occurrence owes its user the job's one notice. */
  notifyUser: boolean;
}

/**
 * Writes a batch's occurrences through the store; the planner decides each one's recovery, the
 * counters learn what it changed. A redelivery of an occurrence already recorded counts only as a
 * duplicate. Returns, besides, the groups that regressed and those whose group alert is held back.
 */
export function recordFailures(
  c: Change,
  failures: readonly FailureInput[],
  outbox: { firstId: number; lastId: number },
): { result: RecordResult; occurrences: RecordedOccurrence[]; regressions: Regression[]; held: ReadonlySet<string> } {
  const { deltas, store } = c;
  const result: RecordResult = { created: 0, repeated: 0, duplicates: 0 };
  const occurrences: RecordedOccurrence[] = [];
  const groups = new Map<string, GroupDelta>();
  deltas.add(counterKey.batches, 1);

  store.load(failures.map((f) => f.jobId));
  for (const f of failures) {
    const before = store.heldNow(f.jobId);
    if (before?.recentKeys.includes(f.occurrenceKey)) {
      result.duplicates++;
      deltas.add(counterKey.duplicates, 1);
      continue;
    }
    const plan = planOccurrence(c, f, before ?? null);
    const notifyUser = owesNotice(f, before?.userNotified ?? false);
    const after = store.write(f, { plan, notifyUser, outbox });
    occurrences.push({ failure: f, previousStatus: before?.status ?? null, status: plan.status, notifyUser });
    deltas.add(counterKey.attemptsSum, f.attempts);
    deltas.add(counterKey.occurrences, 1);
    deltas.occurrenceAt(f.lastFailedAt);
    if (before) {
      deltas.move(counterKey.byStatus(before.status), counterKey.byStatus(after.status));
      deltas.move(counterKey.byClass(before.class), counterKey.byClass(after.class));
      if (plan.refailed) deltas.add(counterKey.refailures, 1);
      if (after.status === "exhausted" && before.status !== "exhausted") deltas.add(counterKey.exhausted, 1);
      if (after.poisonStreak >= POISON_STREAK && before.poisonStreak < POISON_STREAK) deltas.add(counterKey.poison, 1);
      result.repeated++;
    } else {
      deltas.add(counterKey.total, 1);
      deltas.add(counterKey.rows, 1);
      deltas.add(counterKey.byClass(f.class), 1);
      deltas.add(counterKey.byQueue(f.queue), 1);
      deltas.add(counterKey.byStatus(after.status), 1);
      result.created++;
    }
    const group = groups.get(f.fingerprint);
    if (group) {
      group.count++;
      group.firstSeen = Math.min(group.firstSeen, f.firstFailedAt);
      if (f.lastFailedAt >= group.lastSeen) {
        group.lastSeen = f.lastFailedAt;
        group.input = f;
      }
    } else {
      groups.set(f.fingerprint, { input: f, count: 1, firstSeen: f.firstFailedAt, lastSeen: f.lastFailedAt });
    }
  }
  const written = store.writeGroups(groups, c.now);
  deltas.add(counterKey.groups, written.created);
  return { result, occurrences, regressions: written.regressions, held: new Set(written.held) };
}

/** A user is told once per job, the first time it fails as USER_ERROR. */
function owesNotice(f: FailureInput, alreadyNotified: boolean): boolean {
  return !alreadyNotified && f.class === "USER_ERROR" && f.userId !== undefined;
}

/**
 * A batch as one change of the ledger: the failures and their groups, the users' notices, the
 * alerts, and the outbox rows that carry the new occurrences to R2, D1 and Analytics Engine.
 */
export function recordBatch(core: LedgerCore, failures: readonly FailureInput[]): RecordResult {
  const result = core.transact((c) => {
    faultPoint("ledger.record.before-commit", c.tenant);
    core.rememberTenant();
    const ids = reserveOutboxIds(c.head.outbox, failures.length);
    const { result, occurrences, regressions, held } = recordFailures(c, failures, ids);
    for (const o of occurrences) {
      if (o.notifyUser && o.failure.userId) noticeForFailure(c, { ...o.failure, userId: o.failure.userId });
    }
    alertsForBatch(c, occurrences, { regressions, held });
    c.archive(ids.firstId, c.store.outboxOccurrences(c.tenant, c.now));
    c.atCommit(() => afterRecord(c, c.settings.retention, c.now));
    for (const f of failures) {
      c.live.jobs.push(f.jobId);
      c.live.groups.push(f.fingerprint);
    }
    return result;
  });
  // Committed, but the caller may never hear it: a redelivery must then count nothing twice.
  faultPoint("ledger.record.after-commit", core.tenant);
  return result;
}
