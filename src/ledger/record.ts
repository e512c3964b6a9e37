// Recording a batch of failures for one tenant. Runs inside one transactionSync: either the
// whole batch (failures, groups, counters, recovery schedule) is durable or none of it is.

import { faultPoint } from "../faults";
import type { FailureClass, FailureInput, FailureStatus, OutboxOccurrence } from "../model";
import { keepRefFields, refTo } from "./archive-refs";
import { fitting, run, sql } from "../sql";
import type { LedgerCore } from "./core";
import type { Change } from "./change";
import { counterKey } from "./aggregates/counters";
import { alertsForBatch } from "./notify/ops";
import { noticeForFailure } from "./notify/users";
import { nextGroupTail, orderList, type Entry, type ListAppends } from "./order-lists";
import { lowestPendingId, reserveOutboxIds } from "./outbox";
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
  class: FailureClass;
  queue: string;
  last_failed_at: number;
  recent_keys: string;
  user_notified: number;
  /** the outbox row holding a ref to this row's latest occurrence (archive-refs.ts) */
  archive_ref: number | null;
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


/**
 * `outboxSeq` is stamped on every failure written, so retention can tell which rows the outbox
 * has flushed. The planner decides each occurrence's recovery. Returns the occurrences that were
 * new, for the outbox to archive.
 */
export function recordFailures(
  c: Change,
  failures: readonly FailureInput[],
  outbox: { firstId: number; lastId: number },
): { result: RecordResult; accepted: FailureInput[]; occurrences: RecordedOccurrence[]; archived: OutboxOccurrence[] } {
  const outboxSeq = outbox.lastId;
  const { sql: storage, deltas, lists } = c;
  const result: RecordResult = { created: 0, repeated: 0, duplicates: 0 };
  const accepted: FailureInput[] = [];
  const occurrences: RecordedOccurrence[] = [];
  const groups = new Map<string, GroupDelta>();
  // per job, the index in `accepted` of the occurrence its row holds at the end of the batch
  const heldBy = new Map<string, number>();
  deltas.add(counterKey.batches, 1);

  const known = storedFailures(storage, failures.map((f) => f.jobId));
  // Refs in outbox rows below this are flushed already: read once a batch, when a repeat needs it.
  let pendingFrom: number | null | undefined;
  const refPending = (outboxId: number) => outboxId >= ((pendingFrom ??= lowestPendingId(storage)) ?? Number.POSITIVE_INFINITY);
  for (const f of failures) {
    const existing = known.get(f.jobId);

    if (existing) {
      const keys = JSON.parse(existing.recent_keys) as string[];
      if (keys.includes(f.occurrenceKey)) {
        result.duplicates++;
        deltas.add(counterKey.duplicates, 1);
        continue;
      }
      const p = planOccurrence(c, f, existing);
      const notifyUser = owesNotice(f, existing.user_notified === 1);
      const recentKeys = [...keys, f.occurrenceKey].slice(-RECENT_KEYS);
      const latest = f.lastFailedAt >= existing.last_failed_at;
      if (latest) {
        // The row is to hold this occurrence's fields: the ones its pending ref stands for are kept.
        const ref = heldBy.has(f.jobId) ? null : existing.archive_ref;
        if (ref !== null && refPending(ref)) keepRefFields(storage, f.jobId, ref, f);
        heldBy.set(f.jobId, accepted.length);
      }
      updateFailure(storage, f, existing, p, recentKeys, outbox, notifyUser);
      const after = afterUpdate(existing, f, p, recentKeys, notifyUser, outbox.firstId);
      known.set(f.jobId, after);
      listed(lists, f.jobId, after, latest);
      if (f.lastFailedAt > existing.last_failed_at) c.recent.moved(f.jobId, f.lastFailedAt);
      occurrences.push({ failure: f, previousStatus: existing.status, status: p.status, notifyUser });
      deltas.add(counterKey.attemptsSum, f.attempts);
      deltas.move(counterKey.byStatus(existing.status), counterKey.byStatus(p.status));
      if (latest) deltas.move(counterKey.byClass(existing.class), counterKey.byClass(f.class));
      if (p.refailed) deltas.add(counterKey.refailures, 1);
      if (p.status === "exhausted" && existing.status !== "exhausted") deltas.add(counterKey.exhausted, 1);
      if (p.poisonStreak >= POISON_STREAK && existing.poison_streak < POISON_STREAK) deltas.add(counterKey.poison, 1);
      result.repeated++;
    } else {
      const p = planOccurrence(c, f, null);
      const notifyUser = owesNotice(f, false);
      heldBy.set(f.jobId, accepted.length);
      insertFailure(storage, f, p, outbox, notifyUser);
      const after = afterInsert(f, p, notifyUser, outbox.firstId);
      known.set(f.jobId, after);
      listed(lists, f.jobId, after, true);
      c.recent.moved(f.jobId, f.lastFailedAt);
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

  const refs = new Set(heldBy.values());
  const archived = accepted.map(({ sealedBody: _, ...f }, i): OutboxOccurrence =>
    refs.has(i) ? refTo(f, c.tenant, c.now) : { ...f, tenantId: c.tenant, recordedAt: c.now },
  );

  const knownGroups = storedGroupTails(storage, [...groups.keys()]);
  for (const [fingerprint, g] of groups) {
    const tail = knownGroups.get(fingerprint);
    upsertGroup(storage, fingerprint, g, nextGroupTail(lists, fingerprint, tail ?? []));
    if (!tail) deltas.add(counterKey.groups, 1);
  }
  return { result, accepted, occurrences, archived };
}

/** A user is told once per job, the first time it fails as USER_ERROR. */
function owesNotice(f: FailureInput, alreadyNotified: boolean): boolean {
  return !alreadyNotified && f.class === "USER_ERROR" && f.userId !== undefined;
}

/** The stored failures among `jobIds`, one SELECT per statement-sized run of ids. */
function storedFailures(storage: SqlStorage, jobIds: readonly string[]): Map<string, StoredFailure> {
  const known = new Map<string, StoredFailure>();
  for (const chunk of fitting([...new Set(jobIds)], 1)) {
    const rows = run<StoredFailure & { job_id: string }>(
      storage,
      sql`SELECT job_id, status, class, queue, last_failed_at, recent_keys, recovery_attempts, group_fp, poison_streak, user_notified, archive_ref
          FROM failures WHERE job_id IN ${sql.list(chunk)}`,
    );
    for (const { job_id, ...row } of rows) known.set(job_id, row);
  }
  return known;
}

/** The order lists this occurrence belongs to: its status always, its group and class if it set them. */
function listed(lists: ListAppends, jobId: string, stored: StoredFailure, setsGroupAndClass: boolean): void {
  lists.add(orderList.status(stored.status), jobId, stored.last_failed_at);
  if (!setsGroupAndClass) return;
  lists.add(orderList.group(stored.group_fp), jobId, stored.last_failed_at);
  lists.add(orderList.class(stored.class), jobId, stored.last_failed_at);
}

/** What a later occurrence of the same job in this batch finds stored. */
function afterInsert(f: FailureInput, p: Plan, notifyUser: boolean, archiveRef: number): StoredFailure {
  return {
    archive_ref: archiveRef,
    status: p.status,
    class: f.class,
    queue: f.queue,
    last_failed_at: f.lastFailedAt,
    recent_keys: JSON.stringify([f.occurrenceKey]),
    recovery_attempts: p.recoveryAttempts,
    group_fp: f.fingerprint,
    poison_streak: p.poisonStreak,
    user_notified: notifyUser ? 1 : 0,
  };
}

function afterUpdate(existing: StoredFailure, f: FailureInput, p: Plan, recentKeys: string[], notifyUser: boolean, archiveRef: number): StoredFailure {
  const isLatest = f.lastFailedAt >= existing.last_failed_at;
  return {
    ...existing,
    status: p.status,
    recovery_attempts: p.recoveryAttempts,
    poison_streak: p.poisonStreak,
    recent_keys: JSON.stringify(recentKeys),
    user_notified: notifyUser ? 1 : existing.user_notified,
    last_failed_at: Math.max(existing.last_failed_at, f.lastFailedAt),
    ...(isLatest ? { class: f.class, group_fp: f.fingerprint, archive_ref: archiveRef } : {}),
  };
}

function insertFailure(storage: SqlStorage, f: FailureInput, p: Plan, outbox: { firstId: number; lastId: number }, notifyUser: boolean): void {
  const row = sql.join([
    sql`${f.jobId}, ${f.userId ?? null}, ${f.queue}, ${f.class}, ${f.reason}, ${p.status}, ${f.attempts}, 1, ${f.fingerprint}`,
    sql`${errorJson(f)}, ${f.body}, ${f.bodyEncoding}, ${f.bodyRedacted === true}, ${f.sealedBody ?? null}`,
    sql`${f.firstFailedAt}, ${f.lastFailedAt}, ${JSON.stringify([f.occurrenceKey])}, ${outbox.lastId}, ${outbox.firstId}`,
    sql`${p.recoveryAttempts}, ${p.poisonStreak}, ${p.note ?? null}, ${notifyUser}`,
  ]);
  run(
    storage,
    sql`INSERT INTO failures (job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
          error, body, body_encoding, body_redacted, sealed_body, first_failed_at, last_failed_at, recent_keys, outbox_seq, archive_ref,
          recovery_attempts, poison_streak, recovery_note, user_notified)
        VALUES (${row})`,
  );
}

const errorJson = (f: FailureInput) => (f.error ? JSON.stringify(f.error) : null);

/**
 * A new occurrence of a known job: occurrences + 1, attempts accumulate, and the latest error
 * (by lastFailedAt, so out-of-order delivery cannot roll it back) becomes the failure's error.
 * One UPDATE: the columns every occurrence sets, then the ones only the latest occurrence sets.
 */
function updateFailure(
  storage: SqlStorage,
  f: FailureInput,
  existing: StoredFailure,
  p: Plan,
  recentKeys: string[],
  outbox: { firstId: number; lastId: number },
  notifyUser: boolean,
): void {
  const always = [
    sql`occurrences = occurrences + 1`,
    sql`attempts = attempts + ${f.attempts}`,
    sql`status = ${p.status}`,
    sql`recovery_attempts = ${p.recoveryAttempts}`,
    sql`poison_streak = ${p.poisonStreak}`,
    ...(p.note === undefined ? [] : [sql`recovery_note = ${p.note}`]),
    sql`recent_keys = ${JSON.stringify(recentKeys)}`,
    sql`outbox_seq = ${outbox.lastId}`,
    sql`user_notified = MAX(user_notified, ${notifyUser})`,
    sql`first_failed_at = MIN(first_failed_at, ${f.firstFailedAt})`,
    sql`last_failed_at = MAX(last_failed_at, ${f.lastFailedAt})`,
    sql`user_id = COALESCE(user_id, ${f.userId ?? null})`,
  ];
  const onlyIfLatest = [
    sql`class = ${f.class}`,
    sql`reason = ${f.reason}`,
    sql`group_fp = ${f.fingerprint}`,
    sql`error = ${errorJson(f)}`,
    sql`body = ${f.body}`,
    sql`body_encoding = ${f.bodyEncoding}`,
    sql`body_redacted = ${f.bodyRedacted === true}`,
    sql`sealed_body = ${f.sealedBody ?? null}`,
    sql`archive_ref = ${outbox.firstId}`,
  ];
  const isLatest = f.lastFailedAt >= existing.last_failed_at;
  const set = isLatest ? [...always, ...onlyIfLatest] : always;
  run(storage, sql`UPDATE failures SET ${sql.join(set)} WHERE job_id = ${f.jobId}`);
}

/** The groups among `fingerprints` the ledger already holds, with the tail of each one's order list. */
function storedGroupTails(storage: SqlStorage, fingerprints: readonly string[]): Map<string, Entry[]> {
  return new Map(
    fitting(fingerprints, 1).flatMap((chunk) =>
      run<{ fingerprint: string; list_tail: string }>(storage, sql`SELECT fingerprint, list_tail FROM groups WHERE fingerprint IN ${sql.list(chunk)}`)
        .toArray()
        .map((r): [string, Entry[]] => [r.fingerprint, JSON.parse(r.list_tail) as Entry[]]),
    ),
  );
}

function upsertGroup(storage: SqlStorage, fingerprint: string, g: GroupDelta, listTail: string): void {
  const error = g.input.error;
  const row = sql.list([
    fingerprint,
    g.input.queue,
    g.input.class,
    error?.name ?? "NoErrorContext",
    (error?.message ?? g.input.reason).slice(0, 1024),
    g.input.jobId,
    g.count,
    g.firstSeen,
    g.lastSeen,
    listTail,
  ]);
  run(
    storage,
    sql`INSERT INTO groups (fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen, list_tail)
        VALUES ${row}
        ON CONFLICT (fingerprint) DO UPDATE SET
          count = count + excluded.count,
          list_tail = excluded.list_tail,
          first_seen = MIN(first_seen, excluded.first_seen),
          class = CASE WHEN excluded.last_seen >= last_seen THEN excluded.class ELSE class END,
          message_sample = CASE WHEN excluded.last_seen >= last_seen THEN excluded.message_sample ELSE message_sample END,
          sample_job_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.sample_job_id ELSE sample_job_id END,
          last_seen = MAX(last_seen, excluded.last_seen)`,
  );
}

/**
 * A batch as one change of the ledger: the failures and their groups, the users' notices, the
 * alerts, and the outbox rows that carry the new occurrences to R2, D1 and Analytics Engine.
 */
export function recordBatch(core: LedgerCore, failures: readonly FailureInput[]): RecordResult {
  const result = core.transact((c) => {
    faultPoint("ledger.record.before-commit", c.tenant);
    core.rememberTenant();
    const ids = reserveOutboxIds(c.head, failures.length);
    const { result, occurrences, archived } = recordFailures(c, failures, ids);
    for (const o of occurrences) {
      if (o.notifyUser && o.failure.userId) noticeForFailure(c, { ...o.failure, userId: o.failure.userId });
    }
    alertsForBatch(c, occurrences);
    c.archive(ids.firstId, archived);
    c.then(() => afterRecord(c, c.settings.retention, c.now));
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
