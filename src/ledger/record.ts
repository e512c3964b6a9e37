// Recording a batch of failures for one tenant. Runs inside one transactionSync: either the
// whole batch (failures, groups, counters, recovery schedule) is durable or none of it is.

import { faultPoint } from "../faults";
import type { FailureInput, FailureStatus } from "../model";
import type { LedgerCore } from "./core";
import { CounterDeltas, counterKey } from "./counters";
import { alertsForBatch } from "./notify/ops";
import { noticeForFailure } from "./notify/users";
import { reserveOutboxIds } from "./outbox";
import { POISON_STREAK, planOccurrence, type Plan, type Prior } from "./recovery/planner";
import { afterRecord } from "./retention";

/** How many recent occurrence keys a failure remembers to recognise a redelivery. */
const RECENT_KEYS = 32;

export interface RecordResult {
  /** failures seen for the first time */
  created: number;
  /** new occurrences of failures already in the ledger */
  repeated: number;
  /** redeliveries of an occurrence already recorded: counted once, ignored */
  duplicates: number;
}

type StoredFailure = Prior & {
  class: string;
  queue: string;
  last_failed_at: number;
  recent_keys: string;
  user_notified: number;
};

/** What one accepted occurrence did, for notifications and alerts. */
export interface RecordedOccurrence {
  failure: FailureInput;
  previousStatus: FailureStatus | null;
  status: FailureStatus;
  /** This occurrence owes its user the job's one notice. */
  notifyUser: boolean;
}

interface GroupDelta {
  input: FailureInput;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

export type Planner = (f: FailureInput, prior: Prior | null) => Plan;

/**
 * `outboxSeq` is stamped on every failure written, so retention can tell which rows the outbox
 * has flushed. `plan` decides each occurrence's recovery. Returns the occurrences that were
 * new, for the outbox to archive.
 */
export function recordFailures(
  sql: SqlStorage,
  failures: readonly FailureInput[],
  now: number,
  outboxSeq: number,
  plan: Planner,
): { result: RecordResult; accepted: FailureInput[]; occurrences: RecordedOccurrence[] } {
  const result: RecordResult = { created: 0, repeated: 0, duplicates: 0 };
  const accepted: FailureInput[] = [];
  const occurrences: RecordedOccurrence[] = [];
  const deltas = new CounterDeltas();
  const groups = new Map<string, GroupDelta>();
  deltas.add(counterKey.batches, 1);

  for (const f of failures) {
    const existing = sql
      .exec<StoredFailure>(
        `SELECT status, class, queue, last_failed_at, recent_keys, recovery_attempts, group_fp, poison_streak, user_notified
         FROM failures WHERE job_id = ?`,
        f.jobId,
      )
      .toArray()[0];

    if (existing) {
      const keys = JSON.parse(existing.recent_keys) as string[];
      if (keys.includes(f.occurrenceKey)) {
        result.duplicates++;
        deltas.add(counterKey.duplicates, 1);
        continue;
      }
      const p = plan(f, existing);
      const notifyUser = owesNotice(f, existing.user_notified === 1);
      updateFailure(sql, f, existing, p, [...keys, f.occurrenceKey].slice(-RECENT_KEYS), outboxSeq, notifyUser);
      occurrences.push({ failure: f, previousStatus: existing.status, status: p.status, notifyUser });
      deltas.add(counterKey.attemptsSum, f.attempts);
      deltas.move(counterKey.byStatus(existing.status), counterKey.byStatus(p.status));
      if (f.lastFailedAt >= existing.last_failed_at) deltas.move(`class:${existing.class}`, counterKey.byClass(f.class));
      if (p.refailed) deltas.add(counterKey.refailures, 1);
      if (p.status === "exhausted" && existing.status !== "exhausted") deltas.add(counterKey.exhausted, 1);
      if (p.poisonStreak >= POISON_STREAK && existing.poison_streak < POISON_STREAK) deltas.add(counterKey.poison, 1);
      result.repeated++;
    } else {
      const p = plan(f, null);
      const notifyUser = owesNotice(f, false);
      insertFailure(sql, f, p, outboxSeq, notifyUser);
      occurrences.push({ failure: f, previousStatus: null, status: p.status, notifyUser });
      deltas.add(counterKey.total, 1);
      deltas.add(counterKey.rows, 1);
      deltas.add(counterKey.byClass(f.class), 1);
      deltas.add(counterKey.byQueue(f.queue), 1);
      deltas.add(counterKey.byStatus(p.status), 1);
      deltas.add(counterKey.attemptsSum, f.attempts);
      result.created++;
    }

    accepted.push(f);
    deltas.add(counterKey.occurrences, 1);
    deltas.occurrenceAt(f.lastFailedAt);
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

  for (const [fingerprint, g] of groups) {
    if (upsertGroup(sql, fingerprint, g)) deltas.add(counterKey.groups, 1);
  }
  deltas.apply(sql, now);
  return { result, accepted, occurrences };
}

/** A user is told once per job, the first time it fails as USER_ERROR. */
function owesNotice(f: FailureInput, alreadyNotified: boolean): boolean {
  return !alreadyNotified && f.class === "USER_ERROR" && f.userId !== undefined;
}

function insertFailure(sql: SqlStorage, f: FailureInput, p: Plan, outboxSeq: number, notifyUser: boolean): void {
  sql.exec(
    `INSERT INTO failures (job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
       error, body, body_encoding, body_redacted, sealed_body, first_failed_at, last_failed_at, recent_keys, outbox_seq,
       recovery_attempts, poison_streak, recovery_note, user_notified)
     VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    f.jobId,
    f.userId ?? null,
    f.queue,
    f.class,
    f.reason,
    p.status,
    f.attempts,
    f.fingerprint,
    f.error ? JSON.stringify(f.error) : null,
    f.body,
    f.bodyEncoding,
    f.bodyRedacted ? 1 : 0,
    f.sealedBody ?? null,
    f.firstFailedAt,
    f.lastFailedAt,
    JSON.stringify([f.occurrenceKey]),
    outboxSeq,
    p.recoveryAttempts,
    p.poisonStreak,
    p.note ?? null,
    notifyUser ? 1 : 0,
  );
}

/**
 * A new occurrence of a known job: occurrences + 1, attempts accumulate, and the latest error
 * (by lastFailedAt, so out-of-order delivery cannot roll it back) becomes the failure's error.
 */
function updateFailure(
  sql: SqlStorage,
  f: FailureInput,
  existing: StoredFailure,
  p: Plan,
  recentKeys: string[],
  outboxSeq: number,
  notifyUser: boolean,
): void {
  const isLatest = f.lastFailedAt >= existing.last_failed_at;
  sql.exec(
    `UPDATE failures SET
       occurrences = occurrences + 1,
       attempts = attempts + ?,
       status = ?,
       recovery_attempts = ?,
       poison_streak = ?,
       recovery_note = CASE WHEN ? THEN ? ELSE recovery_note END,
       recent_keys = ?,
       outbox_seq = ?,
       user_notified = MAX(user_notified, ?),
       first_failed_at = MIN(first_failed_at, ?),
       last_failed_at = MAX(last_failed_at, ?),
       user_id = COALESCE(user_id, ?),
       class = CASE WHEN ? THEN ? ELSE class END,
       reason = CASE WHEN ? THEN ? ELSE reason END,
       group_fp = CASE WHEN ? THEN ? ELSE group_fp END,
       error = CASE WHEN ? THEN ? ELSE error END,
       body = CASE WHEN ? THEN ? ELSE body END,
       body_encoding = CASE WHEN ? THEN ? ELSE body_encoding END,
       body_redacted = CASE WHEN ? THEN ? ELSE body_redacted END,
       sealed_body = CASE WHEN ? THEN ? ELSE sealed_body END
     WHERE job_id = ?`,
    f.attempts,
    p.status,
    p.recoveryAttempts,
    p.poisonStreak,
    p.note === undefined ? 0 : 1,
    p.note ?? null,
    JSON.stringify(recentKeys),
    outboxSeq,
    notifyUser ? 1 : 0,
    f.firstFailedAt,
    f.lastFailedAt,
    f.userId ?? null,
    ...latest(isLatest, f.class),
    ...latest(isLatest, f.reason),
    ...latest(isLatest, f.fingerprint),
    ...latest(isLatest, f.error ? JSON.stringify(f.error) : null),
    ...latest(isLatest, f.body),
    ...latest(isLatest, f.bodyEncoding),
    ...latest(isLatest, f.bodyRedacted ? 1 : 0),
    ...latest(isLatest, f.sealedBody ?? null),
    f.jobId,
  );
}

function latest<T>(isLatest: boolean, value: T): [number, T] {
  return [isLatest ? 1 : 0, value];
}

/** Returns true when the group is new. */
function upsertGroup(sql: SqlStorage, fingerprint: string, g: GroupDelta): boolean {
  const known = sql.exec(`SELECT 1 FROM groups WHERE fingerprint = ?`, fingerprint).toArray().length > 0;
  const error = g.input.error;
  sql.exec(
    `INSERT INTO groups (fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (fingerprint) DO UPDATE SET
       count = count + excluded.count,
       first_seen = MIN(first_seen, excluded.first_seen),
       class = CASE WHEN excluded.last_seen >= last_seen THEN excluded.class ELSE class END,
       message_sample = CASE WHEN excluded.last_seen >= last_seen THEN excluded.message_sample ELSE message_sample END,
       sample_job_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.sample_job_id ELSE sample_job_id END,
       last_seen = MAX(last_seen, excluded.last_seen)`,
    fingerprint,
    g.input.queue,
    g.input.class,
    error?.name ?? "NoErrorContext",
    (error?.message ?? g.input.reason).slice(0, 1024),
    g.input.jobId,
    g.count,
    g.firstSeen,
    g.lastSeen,
  );
  return !known;
}

/**
 * A batch as one change of the ledger: the failures and their groups, the users' notices, the
 * alerts, and the outbox rows that carry the new occurrences to R2, D1 and Analytics Engine.
 */
export function recordBatch(core: LedgerCore, failures: readonly FailureInput[]): RecordResult {
  const result = core.transact((c) => {
    faultPoint("ledger.record.before-commit", c.tenant);
    core.rememberTenant();
    const { firstId, lastId } = reserveOutboxIds(c.sql, failures.length);
    const { result, accepted, occurrences } = recordFailures(c.sql, failures, c.now, lastId, (f, prior) => planOccurrence(c, f, prior));
    for (const o of occurrences) {
      if (o.notifyUser && o.failure.userId) noticeForFailure(c, { ...o.failure, userId: o.failure.userId });
    }
    alertsForBatch(c, occurrences);
    c.archive(
      firstId,
      accepted.map(({ sealedBody: _, ...f }) => ({ ...f, tenantId: c.tenant, recordedAt: c.now })),
    );
    c.then(() => afterRecord(c.sql, c.settings.retention, c.now));
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
