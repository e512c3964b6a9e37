// A plain model of what the FailureLedger promises: maps and arrays, no index, no optimisation.
// ledger.model.test.ts drives a real ledger and this model with the same random commands and
// compares every read after each one.
//
// What it holds, in the ledger's terms: the failures held (dedup on (jobId, occurrenceKey), the
// latest occurrence by lastFailedAt sets class, reason, group, error and body), their recovery
// state (status, due retry, due presumption), the groups, the lifetime counters of stats(), the
// time order retention evicts by (see `TimeOrder`), which failures the outbox has not flushed yet
// (retention keeps them), and the retention policy tuned now.

import type { ErrorInfo, FailureClass, FailureInput, FailureStatus } from "../../src/model";

export const CLASSES: readonly FailureClass[] = ["RECOVERABLE", "USER_ERROR", "SYSTEM_ERROR", "UNKNOWN"];
export const STATUSES: readonly FailureStatus[] = ["open", "retrying", "exhausted", "recovered", "presumed_recovered", "abandoned"];

/** The origin queue with a producer (ORIGIN_QUEUES in vitest.config.ts): requeues and retries reach it. */
export const ORIGIN = "recovery-test";
/** A queue without a producer: its failures can be neither retried nor requeued. */
export const PLAIN = "jobs";

/** How the test tunes the ledger (and so what the model assumes). */
export const SETTINGS = {
  /** Recovery backoff is exactly 1 s (base = cap = 1 s: the jitter cannot move it). */
  retryDelayMs: 1000,
  maxAttempts: 2,
  presumeAfterMs: 30 * 60_000,
  /** Between retention passes the ledger keeps everything: no failure is older than this. */
  defaultRetention: { maxRows: 1_000_000, maxAgeMs: 30 * 24 * 3600_000 },
} as const;

/** Entries dated this far past the clock are "ahead" (store/time-order.ts AHEAD_MS). */
const AHEAD_MS = 5 * 60_000;
/** Occurrence keys a failure remembers to recognise a redelivery (record.ts RECENT_KEYS). */
const RECENT_KEYS = 32;
const POISON_STREAK = 2;

export interface HeldFailure {
  jobId: string;
  userId: string | null;
  queue: string;
  class: FailureClass;
  reason: string;
  status: FailureStatus;
  attempts: number;
  occurrences: number;
  group: string;
  error: ErrorInfo | null;
  firstFailedAt: number;
  lastFailedAt: number;
  body: string;
  bodyEncoding: "json" | "base64";
  /** the stored body had values redacted (an edited body with a secret in it) */
  bodyRedacted: boolean;
  /** the exact body is kept sealed (RETRY_SEAL_KEY is set in the tests), so it can still be sent */
  sealed: boolean;
  recoveryAttempts: number;
  poisonStreak: number;
  note: string | null;
  keys: string[];
  /** when its automatic retry is due, if one is scheduled */
  retryDue: number | null;
  /** when it will be presumed recovered, if it waits for that */
  presumeDue: number | null;
}

export interface ModelGroup {
  fingerprint: string;
  queue: string;
  class: FailureClass;
  errorName: string;
  messageSample: string;
  sampleJobId: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
  /** triage: resolved by a person, or open (ongoing, or regressed: failed again after a resolve) */
  state: "open" | "resolved";
  substate: "ongoing" | "regressed";
  changedAt: number | null;
  changedBy: string | null;
  /** each change of its state, oldest first: what the ledger's group history lists newest first */
  history: { at: number; actor: string; action: TriageVerb | "regressed" }[];
}

export type TriageVerb = "resolve" | "acknowledge" | "reopen";

export interface Filter {
  class?: FailureClass;
  status?: FailureStatus;
  queue?: string;
  group?: string;
  /** lastFailedAt range, epoch ms, both ends inclusive */
  from?: number;
  to?: number;
}

type Entry = [string, number];

/**
 * The time order retention evicts by, as retention.ts documents it: one row per change that moved
 * failures' lastFailedAt, in the order of the changes; a row's `oldest` is the earliest entry it
 * was written (or last rewritten) with. A failure's place is the row that holds its current
 * [jobId, lastFailedAt]: a failure that arrives late leaves with the rows before it. Entries dated
 * more than 5 min past the clock also wait in the ahead list and join the next row written once
 * the clock has caught up with them (store/time-order.ts).
 */
interface TimeRow {
  entries: Entry[];
  oldest: number;
}

export interface Counters {
  total: number;
  occurrences: number;
  duplicates: number;
  batches: number;
  attemptsSum: number;
  byClass: Record<FailureClass, number>;
  byStatus: Record<FailureStatus, number>;
  byQueue: Record<string, number>;
  groups: number;
  evicted: number;
  retriesSent: number;
  refailures: number;
  exhausted: number;
  poison: number;
  recovered: number;
  presumedRecovered: number;
  manualRequeues: number;
  abandoned: number;
}

export type Refusal = "not_found" | "conflict";

export interface OperationOutcome {
  total: number;
  succeeded: number;
  failed: number;
  /** the items that failed, in snapshot order */
  failedJobs: string[];
}

const zeroBy = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;

export class LedgerModel {
  now: number;
  readonly failures = new Map<string, HeldFailure>();
  readonly groups = new Map<string, ModelGroup>();
  /** every job id ever recorded: each is read by id after every command */
  readonly seen = new Set<string>();
  readonly counters: Counters = {
    total: 0,
    occurrences: 0,
    duplicates: 0,
    batches: 0,
    attemptsSum: 0,
    byClass: zeroBy(CLASSES),
    byStatus: zeroBy(STATUSES),
    byQueue: {},
    groups: 0,
    evicted: 0,
    retriesSent: 0,
    refailures: 0,
    exhausted: 0,
    poison: 0,
    recovered: 0,
    presumedRecovered: 0,
    manualRequeues: 0,
    abandoned: 0,
  };
  private readonly timeOrder: TimeRow[] = [];
  /**
   * The failures whose state the outbox still owes D1 and R2: written or changed since the last
   * flush. Retention never evicts them. The alarm runs until nothing is due, and a change's flush
   * is due at once (flushDelayMs 0), so every command that runs the alarm flushes them all.
   */
  readonly unflushed = new Set<string>();
  /** The retention policy the ledger is tuned with now. */
  retention: { maxRows: number; maxAgeMs: number } = SETTINGS.defaultRetention;
  private readonly ahead = new Map<string, number>();
  /** the passes records made over the row bound: failures they evicted, and passes that could evict none */
  readonly inline = { evicted: 0, blocked: 0 };
  /** fresh job ids handed out by retention commands */
  retains = 0;

  constructor(now: number) {
    this.now = now;
  }

  // ---- record ----------------------------------------------------------------------------------

  /** record(batch): returns what the ledger answers (created, repeated, duplicates). */
  record(batch: readonly FailureInput[]): { created: number; repeated: number; duplicates: number } {
    const result = { created: 0, repeated: 0, duplicates: 0 };
    const c = this.counters;
    c.batches++;
    const moved = new Map<string, number>();
    for (const f of batch) {
      const held = this.failures.get(f.jobId);
      if (held) {
        if (held.keys.includes(f.occurrenceKey)) {
          result.duplicates++;
          c.duplicates++;
          continue;
        }
        const from = held.status;
        const wasPoison = held.poisonStreak >= POISON_STREAK;
        const plan = this.plan(f, held);
        const latest = f.lastFailedAt >= held.lastFailedAt;
        if (f.lastFailedAt > held.lastFailedAt) moved.set(f.jobId, f.lastFailedAt);
        held.occurrences++;
        held.attempts += f.attempts;
        held.status = plan.status;
        held.recoveryAttempts = plan.recoveryAttempts;
        held.poisonStreak = plan.poisonStreak;
        if (plan.note !== undefined) held.note = plan.note;
        held.keys = [...held.keys, f.occurrenceKey].slice(-RECENT_KEYS);
        held.firstFailedAt = Math.min(held.firstFailedAt, f.firstFailedAt);
        held.lastFailedAt = Math.max(held.lastFailedAt, f.lastFailedAt);
        held.userId = held.userId ?? f.userId ?? null;
        if (latest) {
          c.byClass[held.class]--;
          c.byClass[f.class]++;
          Object.assign(held, { class: f.class, reason: f.reason, group: f.fingerprint, error: f.error, body: f.body, bodyEncoding: f.bodyEncoding });
          // the test's occurrences have nothing to redact
          Object.assign(held, { bodyRedacted: false, sealed: false });
        }
        c.byStatus[from]--;
        c.byStatus[plan.status]++;
        if (plan.refailed) c.refailures++;
        if (plan.status === "exhausted" && from !== "exhausted") c.exhausted++;
        if (held.poisonStreak >= POISON_STREAK && !wasPoison) c.poison++;
        result.repeated++;
      } else {
        const plan = this.plan(f, null);
        this.failures.set(f.jobId, {
          jobId: f.jobId,
          userId: f.userId ?? null,
          queue: f.queue,
          class: f.class,
          reason: f.reason,
          status: plan.status,
          attempts: f.attempts,
          occurrences: 1,
          group: f.fingerprint,
          error: f.error,
          firstFailedAt: f.firstFailedAt,
          lastFailedAt: f.lastFailedAt,
          body: f.body,
          bodyEncoding: f.bodyEncoding,
          bodyRedacted: false,
          sealed: false,
          recoveryAttempts: plan.recoveryAttempts,
          poisonStreak: plan.poisonStreak,
          note: plan.note ?? null,
          keys: [f.occurrenceKey],
          retryDue: plan.retryDue ?? null,
          presumeDue: null,
        });
        this.seen.add(f.jobId);
        moved.set(f.jobId, f.lastFailedAt);
        c.total++;
        c.byClass[f.class]++;
        c.byQueue[f.queue] = (c.byQueue[f.queue] ?? 0) + 1;
        c.byStatus[plan.status]++;
        result.created++;
      }
      c.occurrences++;
      c.attemptsSum += f.attempts;
      this.unflushed.add(f.jobId);
      this.countInGroup(f);
    }
    this.appendTimeRow(moved);
    this.afterRecord();
    return result;
  }

  /**
   * After a record (retention.ts, afterRecord): over the row bound, a pass trims at once, but
   * evicts only failures already flushed, so the batch itself and everything written since the
   * last flush stay (past the bound) until a flush lets them go. (The ledger skips the pass while
   * it knows it is blocked on the same unflushed outbox row: nothing flushed is left for it then.)
   * Within the bound a record makes no pass that could evict: the commands tune a short age only
   * around a flush (Retain), never across a record.
   */
  private afterRecord(): void {
    if (this.failures.size <= this.retention.maxRows) return;
    const evicted = this.retain(this.retention).length;
    this.inline.evicted += evicted;
    if (evicted === 0) this.inline.blocked++;
  }

  private countInGroup(f: FailureInput): void {
    const g = this.groups.get(f.fingerprint);
    const sample = (f.error?.message ?? f.reason).slice(0, 1024);
    if (!g) {
      this.groups.set(f.fingerprint, {
        fingerprint: f.fingerprint,
        queue: f.queue,
        class: f.class,
        errorName: f.error?.name ?? "NoErrorContext",
        messageSample: sample,
        sampleJobId: f.jobId,
        count: 1,
        firstSeen: f.firstFailedAt,
        lastSeen: f.lastFailedAt,
        state: "open",
        substate: "ongoing",
        changedAt: null,
        changedBy: null,
        history: [],
      });
      this.counters.groups++;
      return;
    }
    // A failure dated after the group's resolve reopens it as regressed; one dated before does not.
    if (g.state === "resolved" && g.changedAt !== null && f.lastFailedAt > g.changedAt) {
      Object.assign(g, { state: "open", substate: "regressed", changedAt: this.now, changedBy: "regression" });
      g.history.push({ at: this.now, actor: "regression", action: "regressed" });
    }
    g.count++;
    g.firstSeen = Math.min(g.firstSeen, f.firstFailedAt);
    if (f.lastFailedAt >= g.lastSeen) Object.assign(g, { lastSeen: f.lastFailedAt, class: f.class, messageSample: sample, sampleJobId: f.jobId });
  }

  /** What a new occurrence means for recovery (the policy of recovery/planner.ts, tuned as SETTINGS). */
  private plan(
    f: FailureInput,
    prior: HeldFailure | null,
  ): { status: FailureStatus; recoveryAttempts: number; poisonStreak: number; note?: string | null; refailed: boolean; retryDue?: number } {
    const queue = prior?.queue ?? f.queue;
    // a retry sends the body held: a late occurrence's own body is not kept
    const unsendable = prior !== null && f.lastFailedAt < prior.lastFailedAt && prior.bodyRedacted && !prior.sealed;
    const blocker =
      f.class !== "RECOVERABLE"
        ? `class ${f.class} is not retried automatically`
        : queue !== ORIGIN
          ? `no producer binding for queue ${queue} in ORIGIN_QUEUES`
          : unsendable
            ? "the body was redacted and its original is not kept sealed (RETRY_SEAL_KEY is not set, or the job was recovered or abandoned), so it cannot be sent unchanged"
            : null;
    const startFrom = (recoveryAttempts: number, poisonStreak: number, refailed: boolean) => {
      if (blocker) return { status: "open" as const, recoveryAttempts, poisonStreak, note: f.class === "RECOVERABLE" ? blocker : null, refailed };
      const retryDue = this.now + SETTINGS.retryDelayMs;
      if (prior) prior.retryDue = retryDue;
      return { status: "retrying" as const, recoveryAttempts, poisonStreak, note: null, refailed, retryDue };
    };
    if (!prior) return startFrom(0, 0, false);
    const keep = { status: prior.status, recoveryAttempts: prior.recoveryAttempts, poisonStreak: prior.poisonStreak, refailed: false };
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
        // dead-lettered again while its retry still waits: the same failure seen twice
        if (prior.retryDue !== null) return keep;
        prior.presumeDue = null;
        const poisonStreak = f.fingerprint === prior.group ? prior.poisonStreak + 1 : 0;
        if (!blocker && prior.recoveryAttempts >= SETTINGS.maxAttempts) {
          return { status: "exhausted", recoveryAttempts: prior.recoveryAttempts, poisonStreak, note: `gave up after ${SETTINGS.maxAttempts} recovery attempts`, refailed: true };
        }
        return startFrom(prior.recoveryAttempts, poisonStreak, true);
      }
    }
  }

  private appendTimeRow(moved: Map<string, number>): void {
    if (moved.size === 0) return;
    const trusted = this.now + AHEAD_MS;
    const entries = new Map(moved);
    for (const [jobId, at] of [...this.ahead]) {
      if (at > trusted) continue;
      this.ahead.delete(jobId);
      if (!entries.has(jobId)) entries.set(jobId, at);
    }
    const row: Entry[] = [...entries];
    for (const [jobId, at] of row) if (at > trusted) this.ahead.set(jobId, at);
    this.timeOrder.push({ entries: row, oldest: Math.min(...row.map((e) => e[1])) });
  }

  // ---- recovery by a person, and reports -------------------------------------------------------

  /** A change of status owes D1 the failure's new state (recovery/context.ts, setStatus). */
  private setStatus(f: HeldFailure, to: FailureStatus): void {
    this.unflushed.add(f.jobId);
    this.counters.byStatus[f.status]--;
    this.counters.byStatus[to]++;
    f.status = to;
  }

  /** Why it may not be sent back; with a replacement body, its own body need not be sendable. */
  private requeueBlocker(f: HeldFailure | undefined, replaced = false): string | null {
    if (!f) return "no such failure";
    if (f.status === "abandoned" || f.status === "recovered") return `the failure is ${f.status}`;
    if (f.queue !== ORIGIN) return `no producer binding for queue ${f.queue}`;
    if (!replaced && f.bodyRedacted && !f.sealed) return "the body was redacted and its original is no longer kept";
    return null;
  }

  private markRequeued(f: HeldFailure, delaySeconds: number): void {
    this.setStatus(f, "retrying");
    f.retryDue = null;
    f.presumeDue = this.now + delaySeconds * 1000 + SETTINGS.presumeAfterMs;
    this.counters.manualRequeues++;
  }

  private markAbandoned(f: HeldFailure, reason: string): void {
    this.setStatus(f, "abandoned");
    f.note = `abandoned: ${reason}`;
    f.sealed = false;
    f.retryDue = null;
    f.presumeDue = null;
    this.counters.abandoned++;
  }

  requeue(jobId: string, delaySeconds: number): Refusal | HeldFailure {
    const f = this.failures.get(jobId);
    if (!f) return "not_found";
    if (this.requeueBlocker(f)) return "conflict";
    this.markRequeued(f, delaySeconds);
    return f;
  }

  /**
   * Edit and requeue (recovery/replace.ts, docs/OPERATIONS.md): refused as a requeue is (its own
   * body need not be sendable), and when the replacement does not keep the stored JSON body's
   * tenantId and jobId. Otherwise requeued as any requeue is, and the replacement becomes the
   * stored body: redacted as an ingested body is (`stored`), the exact one kept sealed.
   */
  edit(jobId: string, delaySeconds: number, replacement: { body: string; bodyEncoding: "json" | "base64"; stored: string; redacted: boolean }): Refusal | HeldFailure {
    const f = this.failures.get(jobId);
    if (!f) return "not_found";
    if (this.requeueBlocker(f, true) || !keepsIdentity(f, replacement)) return "conflict";
    this.markRequeued(f, delaySeconds);
    Object.assign(f, { body: replacement.stored, bodyEncoding: replacement.bodyEncoding, bodyRedacted: replacement.redacted, sealed: replacement.redacted });
    return f;
  }

  abandon(jobId: string, reason: string): Refusal | HeldFailure {
    const f = this.failures.get(jobId);
    if (!f) return "not_found";
    if (f.status !== "abandoned") this.markAbandoned(f, reason);
    return f;
  }

  /** reportSucceeded: the jobs that were failures here and are now recovered, in the order asked. */
  reportSucceeded(jobIds: readonly string[]): string[] {
    const recovered: string[] = [];
    for (const jobId of new Set(jobIds)) {
      const f = this.failures.get(jobId);
      if (!f || f.status === "recovered" || f.status === "abandoned") continue;
      this.setStatus(f, "recovered");
      f.sealed = false;
      f.retryDue = null;
      f.presumeDue = null;
      this.counters.recovered++;
      recovered.push(jobId);
    }
    return recovered;
  }

  /** previewOperation: how many failures a bulk action over `filter` would take. */
  eligible(action: "requeue" | "abandon", filter: Filter): HeldFailure[] {
    return [...this.failures.values()]
      .filter((f) => matches(f, filter) && (action === "abandon" ? f.status !== "abandoned" : f.status !== "abandoned" && f.status !== "recovered"))
      .sort((a, b) => a.lastFailedAt - b.lastFailedAt || (a.jobId < b.jobId ? -1 : 1));
  }

  /**
   * A bulk operation started now and run to its end by the alarm at the same time: the snapshot
   * is what matched when it started; each item is acted on as the ledger holds it then.
   */
  operation(action: "requeue" | "abandon", filter: Filter, options: { reason?: string; delaySeconds?: number }): OperationOutcome {
    const snapshot = this.eligible(action, filter).map((f) => f.jobId);
    const failedJobs: string[] = [];
    for (const jobId of snapshot) {
      const f = this.failures.get(jobId);
      if (action === "abandon") {
        if (!f || f.status === "abandoned") failedJobs.push(jobId);
        else this.markAbandoned(f, options.reason ?? "bulk abandon");
      } else if (this.requeueBlocker(f) !== null) failedJobs.push(jobId);
      else this.markRequeued(f!, options.delaySeconds ?? 0);
    }
    return { total: snapshot.length, succeeded: snapshot.length - failedJobs.length, failed: failedJobs.length, failedJobs };
  }

  // ---- the alarm: due work at the clock --------------------------------------------------------

  /** The due presumptions, then the due retries (each sent at once: the origin queue takes it). */
  runDueWork(): void {
    for (const f of this.failures.values()) {
      if (f.presumeDue === null || f.presumeDue > this.now) continue;
      f.presumeDue = null;
      if (f.status !== "retrying" || f.retryDue !== null) continue;
      this.setStatus(f, "presumed_recovered");
      f.sealed = false;
      this.counters.presumedRecovered++;
    }
    for (const f of this.failures.values()) {
      if (f.retryDue === null || f.retryDue > this.now) continue;
      f.retryDue = null;
      if (f.status !== "retrying") continue;
      f.recoveryAttempts++;
      f.presumeDue = this.now + SETTINGS.presumeAfterMs;
      this.counters.retriesSent++;
      this.unflushed.add(f.jobId);
    }
  }

  /** The outbox flushed: every failure's state has reached D1 and R2, and retention may evict it. */
  flushed(): void {
    this.unflushed.clear();
  }

  /**
   * The alarm, run until nothing is due at the clock (flush.ts, alarm.ts): the flush, then a
   * retention pass over what it let go, then the due presumptions and retries, whose changes are
   * flushed in turn. The commands run it only when the outbox holds a row, or the ledger is within
   * its row bound (a flush with nothing to flush makes no pass).
   */
  alarm(): void {
    this.flushed();
    this.retain(this.retention);
    this.runDueWork();
    this.flushed();
  }

  // ---- retention -------------------------------------------------------------------------------

  /**
   * One retention pass (retention.ts): oldest first in the time order, every flushed failure
   * beyond the row bound or dated before the cutoff leaves (an unflushed one stays where it is and
   * does not count towards the bound); the pass stops at the first row with nothing older than the
   * cutoff once the row bound holds. Returns the jobs evicted.
   */
  retain(policy: { maxRows: number; maxAgeMs: number }): string[] {
    const cutoff = this.now - policy.maxAgeMs;
    let over = this.failures.size - policy.maxRows;
    const evicted: string[] = [];
    for (let i = 0; i < this.timeOrder.length; ) {
      const row = this.timeOrder[i]!;
      if (over <= 0 && row.oldest >= cutoff) break;
      const seen = new Set<string>();
      const held = row.entries
        .filter(([jobId, at]) => {
          if (this.failures.get(jobId)?.lastFailedAt !== at || seen.has(jobId)) return false;
          seen.add(jobId);
          return true;
        })
        .sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const stay: Entry[] = [];
      for (const entry of held) {
        if ((over > 0 || entry[1] < cutoff) && !this.unflushed.has(entry[0])) {
          this.evict(entry[0]);
          evicted.push(entry[0]);
          over--;
        } else stay.push(entry);
      }
      if (stay.length === row.entries.length) i++;
      else if (stay.length === 0) this.timeOrder.splice(i, 1);
      else {
        this.timeOrder[i] = { entries: stay, oldest: Math.min(...stay.map((e) => e[1])) };
        i++;
      }
    }
    return evicted;
  }

  /** Eviction removes the row, never counts: the lifetime counters keep it. */
  private evict(jobId: string): void {
    this.failures.delete(jobId);
    this.counters.evicted++;
  }

  // ---- reads -----------------------------------------------------------------------------------

  /** The failures matching `filter`, newest first by (lastFailedAt desc, jobId desc). */
  list(filter: Filter): HeldFailure[] {
    return [...this.failures.values()].filter((f) => matches(f, filter)).sort(newestFirst);
  }

  /** A person's triage of a group: the group as it then is, or "not_found". An action that would change nothing changes nothing. */
  triage(fingerprint: string, verb: TriageVerb, actor: string): ModelGroup | "not_found" {
    const g = this.groups.get(fingerprint);
    if (!g) return "not_found";
    const to = (state: ModelGroup["state"]) => {
      Object.assign(g, { state, substate: "ongoing", changedAt: this.now, changedBy: actor });
      g.history.push({ at: this.now, actor, action: verb });
    };
    if (verb === "resolve" && g.state !== "resolved") to("resolved");
    if (verb === "acknowledge" && g.state === "open" && g.substate !== "ongoing") to("open");
    if (verb === "reopen" && g.state === "resolved") to("open");
    return g;
  }

  /** The groups, most recently seen first. */
  groupList(): ModelGroup[] {
    return [...this.groups.values()].sort((a, b) => b.lastSeen - a.lastSeen || (a.fingerprint < b.fingerprint ? -1 : a.fingerprint > b.fingerprint ? 1 : 0));
  }

  /** The oldest failure time the model holds or remembers (the default retention must never reach it). */
  oldestTime(): number {
    return Math.min(...this.timeOrder.flatMap((r) => r.entries.map((e) => e[1])), ...[...this.ahead.values()], this.now);
  }
}

export function matches(f: HeldFailure, filter: Filter): boolean {
  return (
    (filter.class === undefined || f.class === filter.class) &&
    (filter.status === undefined || f.status === filter.status) &&
    (filter.queue === undefined || f.queue === filter.queue) &&
    (filter.group === undefined || f.group === filter.group) &&
    (filter.from === undefined || f.lastFailedAt >= filter.from) &&
    (filter.to === undefined || f.lastFailedAt <= filter.to)
  );
}

/** The capture helper and the job's consumer identify a job by its JSON body's tenantId and jobId: a replacement must keep them. */
function keepsIdentity(f: HeldFailure, replacement: { body: string; bodyEncoding: "json" | "base64" }): boolean {
  const before = f.bodyEncoding === "json" ? (JSON.parse(f.body) as Record<string, unknown>) : {};
  const after = replacement.bodyEncoding === "json" ? (JSON.parse(replacement.body) as Record<string, unknown>) : {};
  return (["tenantId", "jobId"] as const).every((key) => typeof before[key] !== "string" || after[key] === before[key]);
}

export const newestFirst = (a: HeldFailure, b: HeldFailure) => b.lastFailedAt - a.lastFailedAt || (a.jobId < b.jobId ? 1 : a.jobId > b.jobId ? -1 : 0);

const iso = (ms: number) => new Date(ms).toISOString();

/** A failure as listFailures / getFailure answer it. */
export function summaryOf(tenantId: string, f: HeldFailure) {
  return {
    jobId: f.jobId,
    userId: f.userId,
    queue: f.queue,
    class: f.class,
    reason: f.reason,
    status: f.status,
    attempts: f.attempts,
    occurrences: f.occurrences,
    group: f.group,
    error: f.error,
    firstFailedAt: iso(f.firstFailedAt),
    lastFailedAt: iso(f.lastFailedAt),
    tenantId,
    recovery: { attempts: f.recoveryAttempts, poison: f.poisonStreak >= POISON_STREAK, note: f.note },
  };
}

export function detailOf(tenantId: string, f: HeldFailure) {
  return { ...summaryOf(tenantId, f), body: f.body, bodyEncoding: f.bodyEncoding };
}

/** A group as the groups list shows it at `now`: new while first seen in the last 24 h and never triaged. */
export function groupOf(g: ModelGroup, now: number) {
  const { state, substate, changedAt, changedBy, history: _, ...fields } = g;
  const fresh = state === "open" && substate === "ongoing" && changedAt === null && now - g.firstSeen < 24 * 3600_000;
  return {
    ...fields,
    firstSeen: iso(g.firstSeen),
    lastSeen: iso(g.lastSeen),
    state,
    substate: state === "open" ? (fresh ? "new" : substate) : null,
    stateChangedAt: changedAt === null ? null : iso(changedAt),
    stateChangedBy: changedBy,
  };
}

/** The counters as stats() reports them (not the flush, delivery or time-window health, which follow the clock). */
export function statsOf(m: LedgerModel) {
  const c = m.counters;
  return {
    total: c.total,
    occurrences: c.occurrences,
    duplicates: c.duplicates,
    batches: c.batches,
    byClass: c.byClass,
    byStatus: c.byStatus,
    byQueue: c.byQueue,
    avgAttempts: c.total === 0 ? 0 : Math.round((c.attemptsSum / c.total) * 100) / 100,
    recoveryQueueSize: c.byStatus.open + c.byStatus.exhausted,
    groups: c.groups,
    rows: m.failures.size,
    evicted: c.evicted,
    recovery: {
      retriesSent: c.retriesSent,
      refailures: c.refailures,
      exhausted: c.exhausted,
      poison: c.poison,
      recovered: c.recovered,
      presumedRecovered: c.presumedRecovered,
      manualRequeues: c.manualRequeues,
      abandoned: c.abandoned,
    },
  };
}
