// One change to a ledger: everything a write path (record, a status report, requeue, abandon,
// an operation step, alarm work) needs inside its transaction, and what it owes on commit. The
// change collects counter deltas, the jobs whose new state D1 must learn, the user notices for
// the inbox and the notice buckets it touched; commit() writes each of them once, the head row
// (head.ts) last.

import type { FailureStatus, OutboxOccurrence, UserNotice } from "../model";
import { CounterDeltas } from "./aggregates/counters";
import { Head } from "./head";
import type { LiveChange } from "./live/feed";
import { saveBuckets, type Bucket } from "./notify/users";
import { ListAppends, orderList } from "./order-lists";
import { touchOutbox, writeOutbox } from "./outbox";
import { RecentAppends } from "./recent";
import { Circuits } from "./recovery/circuit";
import { scheduleIfAbsent } from "./scheduler";
import { run, sql as q } from "../sql";
import type { LedgerSettings } from "./setup";

export class Change {
  readonly deltas = new CounterDeltas();
  /** Entries for the order lists (one row per list per change; see order-lists.ts). */
  readonly lists = new ListAppends();
  /** Entries for the time order (one row per change; see recent.ts). */
  readonly recent = new RecentAppends();
  /** The users' notice buckets read or written in this change (notify/users.ts). */
  readonly buckets = new Map<string, Bucket>();
  /** What live sockets hear about once the change is durable. */
  readonly live: Required<{ [K in keyof LiveChange]: string[] }> = { jobs: [], groups: [], operations: [] };
  private readonly owed = new Set<string>();
  private readonly statuses = new Map<FailureStatus, Set<string>>();
  private readonly notices: UserNotice[] = [];
  private archived: { firstId: number; occurrences: OutboxOccurrence[] } | null = null;
  private readonly afterCommit: (() => void)[] = [];
  private circuitsOfChange: Circuits | null = null;
  private headOfChange: Head | null = null;

  constructor(
    readonly sql: SqlStorage,
    readonly env: Env,
    readonly tenant: string,
    readonly settings: LedgerSettings,
    readonly now: number,
    readonly random: () => number,
  ) {}

  /** The head row, read on first use and written once at commit. */
  get head(): Head {
    return (this.headOfChange ??= Head.read(this.sql));
  }

  get circuits(): Circuits {
    return (this.circuitsOfChange ??= new Circuits(this.sql, this.settings.recovery.circuit));
  }

  /** When what this change owes D1 and R2 should be flushed at the latest. */
  get flushAt(): number {
    return this.now + this.settings.flushDelayMs;
  }

  /** D1 must learn these jobs' new state (a change without a new occurrence). */
  owe(jobIds: Iterable<string>): void {
    for (const id of jobIds) {
      if (this.owed.has(id)) continue;
      this.owed.add(id);
      this.live.jobs.push(id);
    }
  }

  /** These jobs' status changed (order lists by status learn it at commit, one row per status). */
  statusChanged(jobId: string, status: FailureStatus): void {
    const jobs = this.statuses.get(status) ?? new Set<string>();
    jobs.add(jobId);
    this.statuses.set(status, jobs);
  }

  /** A notice for the user's D1 inbox, written with this change's outbox row. */
  notice(notice: UserNotice): void {
    this.notices.push(notice);
  }

  /**
   * New occurrences for R2, D1 and Analytics Engine, in outbox rows from `firstId` on (the
   * failures written with a ref name `firstId` as its row; see archive-refs.ts).
   */
  archive(firstId: number, occurrences: OutboxOccurrence[]): void {
    this.archived = { firstId, occurrences };
  }

  /** Runs once everything but the lists and the head row is written (retention must see the new outbox rows and counts). */
  then(step: () => void): void {
    this.afterCommit.push(step);
  }

  commit(): void {
    saveBuckets(this);
    for (const [status, jobs] of this.statuses) this.lists.addHeld(this.sql, orderList.status(status), [...jobs]);
    if (!this.recent.empty) this.recent.write(this.sql, this.head, this.lists, this.now);
    if (this.archived && this.archived.occurrences.length > 0) {
      const refRows = writeOutbox(this.sql, this.archived.firstId, this.now, this.archived.occurrences, this.notices);
      // A batch too big for one outbox row: its refs beyond the first row say so.
      for (const [jobId, id] of refRows) if (id !== this.archived.firstId) run(this.sql, q`UPDATE failures SET archive_ref = ${id} WHERE job_id = ${jobId}`);
      scheduleIfAbsent(this.sql, "flush", "outbox", this.flushAt);
      touchOutbox(this.sql, this.head, [...this.owed], this.now, this.flushAt);
    } else {
      touchOutbox(this.sql, this.head, [...this.owed], this.now, this.flushAt, this.notices);
    }
    if (!this.deltas.empty) this.deltas.applyTo(this.head.aggregates, this.now);
    for (const step of this.afterCommit) step();
    if (!this.lists.empty) this.lists.write(this.sql, this.head, this.now);
    this.headOfChange?.save();
  }
}
