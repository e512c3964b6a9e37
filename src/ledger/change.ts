// One change to a ledger: everything a write path (record, a status report, requeue, abandon,
// an operation step, alarm work) needs inside its transaction, and what it owes on commit. The
// change collects counter deltas, the jobs whose new state D1 must learn, the user notices for
// the inbox and the notice buckets it touched, and its store gathers the order entries of the
// failures it wrote; commit() writes each of them once, in the order it gives with why.

import type { ArchivedOccurrence, UserNotice } from "../model";
import { CounterDeltas } from "./aggregates/counters";
import { Head } from "./head";
import { NoticeBuckets } from "./notify/buckets";
import { touchOutbox, writeOutbox } from "./outbox";
import { FailureStore } from "./store";
import { Circuits } from "./recovery/circuit";
import { scheduleIfAbsent } from "./scheduler";
import type { LedgerSettings, LedgerSetup } from "./setup";

/** What live sockets hear about a committed change (live/feed.ts). */
export interface LiveChange {
  jobs?: readonly string[];
  groups?: readonly string[];
  operations?: readonly string[];
}

export class Change {
  readonly deltas = new CounterDeltas();
  /** The users' notice buckets read or written in this change (notify/users.ts). */
  readonly buckets: NoticeBuckets;
  /** What live sockets hear about once the change is durable. */
  readonly live: Required<{ [K in keyof LiveChange]: string[] }> = { jobs: [], groups: [], operations: [] };
  private readonly owed = new Set<string>();
  private readonly notices: UserNotice[] = [];
  private archived: { firstId: number; occurrences: ArchivedOccurrence[] } | null = null;
  private readonly afterCommit: (() => void)[] = [];
  private circuitsOfChange: Circuits | null = null;
  private headOfChange: Head | null = null;
  private storeOfChange: FailureStore | null = null;

  constructor(
    readonly sql: SqlStorage,
    readonly env: Env,
    readonly tenant: string,
    private readonly setup: LedgerSetup,
    readonly now: number,
  ) {
    this.buckets = new NoticeBuckets(sql);
  }

  get settings(): LedgerSettings {
    return this.setup.settings;
  }

  /** The ledger's source of jitter. */
  get random(): () => number {
    return this.setup.random;
  }

  /** The head row, read on first use and written once at commit. */
  get head(): Head {
    return (this.headOfChange ??= Head.read(this.sql));
  }

  /** The failures and what orders them (store/): the only way a change reads or writes them. */
  get store(): FailureStore {
    return (this.storeOfChange ??= new FailureStore(
      this.sql,
      { tails: () => this.head.tails },
      this.setup.mechanisms,
    ));
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

  /** A notice for the user's D1 inbox, written with this change's outbox row. */
  notice(notice: UserNotice): void {
    this.notices.push(notice);
  }

  /** New occurrences for R2, D1 and Analytics Engine, in outbox rows from `firstId` on. */
  archive(firstId: number, occurrences: ArchivedOccurrence[]): void {
    this.archived = { firstId, occurrences };
  }

  /**
   * Runs at commit once the failures, the outbox rows and the counters are written, before the
   * head row is (retention must see the new outbox rows and counts, and moves counters itself).
   */
  atCommit(step: () => void): void {
    this.afterCommit.push(step);
  }

  /**
   * Writes what the change owes, each once. The order matters:
   * 1. the users' notice buckets: independent of the rest;
   * 2. the store's order entries (status lists, one time-order row, list tails and spills): the
   *    time order must hold this change's failures before retention walks it (step 5);
   * 3. the outbox rows, and the failures' stamps of what they owe: retention may evict only
   *    failures whose outbox rows are flushed, so it must see this change's rows;
   * 4. the counters and windows: retention reads the rows counter;
   * 5. the steps asked for with atCommit() (retention), which move counters themselves;
   * 6. the head row, last: steps 2 to 5 each changed their part of it, and it is written once.
   */
  commit(): void {
    this.buckets.save();
    this.storeOfChange?.commit(this.now);
    const owed = [...this.owed];
    if (this.archived && this.archived.occurrences.length > 0) {
      writeOutbox(this.sql, this.archived.firstId, this.now, this.archived.occurrences, this.notices);
      scheduleIfAbsent(this.sql, "flush", "outbox", this.flushAt);
      this.oweTouched(owed, []);
    } else {
      this.oweTouched(owed, this.notices);
    }
    if (!this.deltas.empty) this.deltas.applyTo(this.head.aggregates, this.now);
    for (const step of this.afterCommit) step();
    this.headOfChange?.save();
  }

  /** D1 owed these jobs' state (and these notices) without a new occurrence: one outbox row. */
  private oweTouched(jobIds: readonly string[], notices: readonly UserNotice[]): void {
    const id = touchOutbox(this.sql, this.head.outbox, jobIds, this.now, this.flushAt, notices);
    if (id !== null) this.store.owedBy(jobIds, id);
  }
}
