// The failures table: one row per job, holding its latest occurrence's fields (class, reason,
// group, error, body), what every occurrence adds up (occurrences, attempts, first and last
// failure time), its recovery state, and the store's own stamp `outbox_seq` (the last outbox
// row that owes D1 this row's state: retention keeps the row until it is flushed). Its column
// `archive_ref` is unused since ledger v16 (legacy-refs.ts): dropping it would rewrite every row.

import type { FailureClass, FailureInput, FailureStatus } from "../../model";
import { fitting, run, sql, type Sql } from "../../sql";

/** How many recent occurrence keys a failure remembers to recognise a redelivery. */
const RECENT_KEYS = 32;

/** What the record path needs to know of a failure it holds. */
export interface HeldFailure {
  status: FailureStatus;
  class: FailureClass;
  /** The origin queue as first recorded (a later raw dead-letter can only guess it). */
  queue: string;
  group: string;
  lastFailedAt: number;
  recoveryAttempts: number;
  poisonStreak: number;
  userNotified: boolean;
  /** The occurrence keys seen lately, oldest first: a redelivery repeats one of them. */
  recentKeys: readonly string[];
  /** The stored body had values redacted, and whether its original is still kept sealed: what a retry would send. */
  bodyRedacted: boolean;
  hasSealedBody: boolean;
}

/** The recovery state an occurrence leaves (recovery/planner.ts decides it). */
export interface RecoveryPlan {
  status: FailureStatus;
  recoveryAttempts: number;
  poisonStreak: number;
  /** Why the failure is not (or no longer) retried automatically; undefined keeps the old note. */
  note?: string | null;
}

/** An occurrence as written: its plan, whether it owes the user a notice, and its outbox rows. */
export interface Written {
  plan: RecoveryPlan;
  notifyUser: boolean;
  /** The change's outbox rows: the last of them owes D1 the failure's state. */
  outbox: { firstId: number; lastId: number };
}

type HeldRow = {
  job_id: string;
  status: FailureStatus;
  class: FailureClass;
  queue: string;
  group_fp: string;
  last_failed_at: number;
  recovery_attempts: number;
  poison_streak: number;
  user_notified: number;
  recent_keys: string;
  body_redacted: number;
  sealed: number;
};

/** The held failures among `jobIds`, one SELECT per statement-sized run of ids. */
export function readHeld(storage: SqlStorage, jobIds: readonly string[]): Map<string, HeldFailure> {
  const held = new Map<string, HeldFailure>();
  for (const chunk of fitting([...new Set(jobIds)], 1)) {
    const rows = run<HeldRow>(
      storage,
      sql`SELECT job_id, status, class, queue, group_fp, last_failed_at, recovery_attempts, poison_streak, user_notified, recent_keys,
            body_redacted, sealed_body IS NOT NULL AS sealed
          FROM failures WHERE job_id IN ${sql.list(chunk)}`,
    );
    for (const r of rows) {
      held.set(r.job_id, {
        status: r.status,
        class: r.class,
        queue: r.queue,
        group: r.group_fp,
        lastFailedAt: r.last_failed_at,
        recoveryAttempts: r.recovery_attempts,
        poisonStreak: r.poison_streak,
        userNotified: r.user_notified === 1,
        recentKeys: JSON.parse(r.recent_keys) as string[],
        bodyRedacted: r.body_redacted === 1,
        hasSealedBody: r.sealed === 1,
      });
    }
  }
  return held;
}

const errorJson = (f: FailureInput) => (f.error ? JSON.stringify(f.error) : null);

/** A job's first occurrence; returns the row as held now. */
export function insertFailure(storage: SqlStorage, f: FailureInput, w: Written): HeldFailure {
  const p = w.plan;
  const row = sql.join([
    sql`${f.jobId}, ${f.userId ?? null}, ${f.queue}, ${f.class}, ${f.reason}, ${p.status}, ${f.attempts}, 1, ${f.fingerprint}`,
    sql`${errorJson(f)}, ${f.body}, ${f.bodyEncoding}, ${f.bodyRedacted === true}, ${f.sealedBody ?? null}`,
    sql`${f.firstFailedAt}, ${f.lastFailedAt}, ${JSON.stringify([f.occurrenceKey])}, ${w.outbox.lastId}`,
    sql`${p.recoveryAttempts}, ${p.poisonStreak}, ${p.note ?? null}, ${w.notifyUser}`,
  ]);
  run(
    storage,
    sql`INSERT INTO failures (job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp,
          error, body, body_encoding, body_redacted, sealed_body, first_failed_at, last_failed_at, recent_keys, outbox_seq,
          recovery_attempts, poison_streak, recovery_note, user_notified)
        VALUES (${row})`,
  );
  return {
    status: p.status,
    class: f.class,
    queue: f.queue,
    group: f.fingerprint,
    lastFailedAt: f.lastFailedAt,
    recoveryAttempts: p.recoveryAttempts,
    poisonStreak: p.poisonStreak,
    userNotified: w.notifyUser,
    recentKeys: [f.occurrenceKey],
    bodyRedacted: f.bodyRedacted === true,
    hasSealedBody: f.sealedBody !== undefined,
  };
}

/**
 * A later occurrence of a held job: occurrences + 1, attempts accumulate, and when it is the
 * latest (by lastFailedAt, so out-of-order delivery cannot roll it back) its fields become the
 * row's. One UPDATE; returns the row as held now.
 */
export function updateFailure(storage: SqlStorage, f: FailureInput, held: HeldFailure, latest: boolean, w: Written): HeldFailure {
  const p = w.plan;
  const recentKeys = [...held.recentKeys, f.occurrenceKey].slice(-RECENT_KEYS);
  const always = [
    sql`occurrences = occurrences + 1`,
    sql`attempts = attempts + ${f.attempts}`,
    sql`status = ${p.status}`,
    sql`recovery_attempts = ${p.recoveryAttempts}`,
    sql`poison_streak = ${p.poisonStreak}`,
    ...(p.note === undefined ? [] : [sql`recovery_note = ${p.note}`]),
    sql`recent_keys = ${JSON.stringify(recentKeys)}`,
    sql`outbox_seq = ${w.outbox.lastId}`,
    sql`user_notified = MAX(user_notified, ${w.notifyUser})`,
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
  ];
  run(storage, sql`UPDATE failures SET ${sql.join(latest ? [...always, ...onlyIfLatest] : always)} WHERE job_id = ${f.jobId}`);
  return {
    ...held,
    status: p.status,
    recoveryAttempts: p.recoveryAttempts,
    poisonStreak: p.poisonStreak,
    recentKeys,
    userNotified: held.userNotified || w.notifyUser,
    lastFailedAt: Math.max(held.lastFailedAt, f.lastFailedAt),
    ...(latest ? { class: f.class, group: f.fingerprint, bodyRedacted: f.bodyRedacted === true, hasSealedBody: f.sealedBody !== undefined } : {}),
  };
}

/** What recovery reads of a failure: enough to decide, and the body to send. */
export interface RecoveryView {
  jobId: string;
  status: FailureStatus;
  queue: string;
  class: FailureClass;
  body: string;
  bodyEncoding: "json" | "base64";
  /** The stored body had values redacted; `sealedBody`, when kept, is the original sealed. */
  bodyRedacted: boolean;
  sealedBody: string | null;
  recoveryAttempts: number;
  /** The retry attempt marked as being sent, or null. */
  retryInFlight: number | null;
}

export function readRecoveryViews(storage: SqlStorage, jobIds: readonly string[]): Map<string, RecoveryView> {
  const views = new Map<string, RecoveryView>();
  for (const chunk of fitting([...new Set(jobIds)], 1)) {
    const rows = run<{
      job_id: string;
      status: FailureStatus;
      queue: string;
      class: FailureClass;
      body: string;
      body_encoding: "json" | "base64";
      body_redacted: number;
      sealed_body: string | null;
      recovery_attempts: number;
      retry_in_flight: number | null;
    }>(
      storage,
      sql`SELECT job_id, status, queue, class, body, body_encoding, body_redacted, sealed_body, recovery_attempts, retry_in_flight
          FROM failures WHERE job_id IN ${sql.list(chunk)}`,
    );
    for (const r of rows) {
      views.set(r.job_id, {
        jobId: r.job_id,
        status: r.status,
        queue: r.queue,
        class: r.class,
        body: r.body,
        bodyEncoding: r.body_encoding,
        bodyRedacted: r.body_redacted === 1,
        sealedBody: r.sealed_body,
        recoveryAttempts: r.recovery_attempts,
        retryInFlight: r.retry_in_flight,
      });
    }
  }
  return views;
}

/** The recovery fields a step may set; each given field is written, the rest left as they are. */
export interface RecoveryPatch {
  recoveryAttempts?: number;
  retryInFlight?: number | null;
  lastRetryAt?: number;
  recoveryNote?: string | null;
  /** Only ever cleared: a sealed original is kept until the job is done with. */
  sealedBody?: null;
}

export function patchRecovery(storage: SqlStorage, jobId: string, patch: RecoveryPatch): void {
  const set: Sql[] = [];
  if (patch.recoveryAttempts !== undefined) set.push(sql`recovery_attempts = ${patch.recoveryAttempts}`);
  if (patch.retryInFlight !== undefined) set.push(sql`retry_in_flight = ${patch.retryInFlight}`);
  if (patch.lastRetryAt !== undefined) set.push(sql`last_retry_at = ${patch.lastRetryAt}`);
  if (patch.recoveryNote !== undefined) set.push(sql`recovery_note = ${patch.recoveryNote}`);
  if (patch.sealedBody !== undefined) set.push(sql`sealed_body = NULL`);
  if (set.length > 0) run(storage, sql`UPDATE failures SET ${sql.join(set)} WHERE job_id = ${jobId}`);
}

export function writeStatus(storage: SqlStorage, jobId: string, status: FailureStatus): void {
  run(storage, sql`UPDATE failures SET status = ${status} WHERE job_id = ${jobId}`);
}

/** A body that replaces the stored one (edit and requeue), as it is to be kept. */
export interface StoredBody {
  body: string;
  bodyEncoding: "json" | "base64";
  bodyRedacted: boolean;
  sealedBody: string | null;
}

/** A replaced body (the one that failed was archived with its occurrence). */
export function writeBody(storage: SqlStorage, jobId: string, b: StoredBody): void {
  run(
    storage,
    sql`UPDATE failures SET body = ${b.body}, body_encoding = ${b.bodyEncoding}, body_redacted = ${b.bodyRedacted}, sealed_body = ${b.sealedBody}
        WHERE job_id = ${jobId}`,
  );
}

/** These failures' state is owed to D1 by outbox row `outboxId`: retention keeps them until it is flushed. */
export function stampOwed(storage: SqlStorage, jobIds: readonly string[], outboxId: number): void {
  for (const chunk of fitting(jobIds, 1, 1)) run(storage, sql`UPDATE failures SET outbox_seq = ${outboxId} WHERE job_id IN ${sql.list(chunk)}`);
}
