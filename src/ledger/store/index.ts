// The failure store: the failures, their groups, and every structure that orders, pages or
// evicts them (the time order, the order lists and their tails), and what the outbox carries of
// them. Nothing outside this folder reads or writes those tables or knows their layout;
// the rest of the ledger asks through this class.
//
// One store serves one Change: it gathers the order-list and time-order entries the change's
// writes make and writes them at commit(). A store made without a change (`readOnly`) answers
// reads only.
//
// How the structures work, and what each saves: docs/ARCHITECTURE.md, "The storage boundary".

import type { ArchivedOccurrence, FailureInput, FailureStatus, OutboxOccurrence } from "../../model";
import type { Sql } from "../../sql";
import type { TailsPart } from "../head";
import { filterClauses, type FailureFilter, type FailureQuery } from "./cursor";
import { evictOldest, oldestHeld } from "./eviction";
import { ALL_MECHANISMS, type Mechanisms } from "./mechanisms";
import { releaseKeptFields, resolveOccurrences } from "./legacy-refs";
import {
  appendHistory,
  groupSummaries,
  listGroups,
  readGroupState,
  readGroups,
  readHistory,
  upsertGroups,
  writeGroupState,
  type GroupAction,
  type GroupDelta,
  type GroupHistoryEntry,
  type GroupState,
  type GroupSummary,
  type Regression,
} from "./groups";
import { ListAppends, orderList } from "./order-lists";
import { failureFieldsOf, failureSummaries, getFailure, listFailures, matchingFailures, type FailureDetail, type FailurePage, type FailureSummary } from "./pages";
import {
  insertFailure,
  patchRecovery,
  readHeld,
  readRecoveryViews,
  stampOwed,
  updateFailure,
  writeBody,
  writeStatus,
  type HeldFailure,
  type RecoveryPatch,
  type RecoveryView,
  type StoredBody,
  type Written,
} from "./rows";
import { rebuildOrder } from "./rebuild";
import { RecentAppends } from "./time-order";

export type { Entry, FailureFilter, FailureQuery, FailureSearch, PageCursor } from "./cursor";
export type { GroupAction, GroupDelta, GroupHistoryEntry, GroupState, GroupSummary, Regression } from "./groups";
export type { FailureDetail, FailurePage, FailureSummary } from "./pages";
export type { HeldFailure, RecoveryPatch, RecoveryPlan, RecoveryView, StoredBody, Written } from "./rows";

/** What a store that writes needs from its change. */
export interface StoreDeps {
  /** The head row's list tails (the change writes the row once, at its end). */
  tails(): TailsPart;
}

export { ALL_MECHANISMS, type Mechanisms } from "./mechanisms";

export class FailureStore {
  private readonly lists: ListAppends;
  private readonly recent = new RecentAppends();
  private readonly statuses = new Map<FailureStatus, Set<string>>();
  /** The failures this change read or wrote, as held now. */
  private readonly held = new Map<string, HeldFailure>();
  /** The occurrences this change recorded, in order. */
  private readonly recorded: FailureInput[] = [];

  constructor(
    private readonly sql: SqlStorage,
    private readonly deps: StoreDeps | null,
    private readonly mechanisms: Readonly<Mechanisms> = ALL_MECHANISMS,
  ) {
    this.lists = new ListAppends(mechanisms.listTails ? undefined : 1);
  }

  static readOnly(sql: SqlStorage, mechanisms: Readonly<Mechanisms> = ALL_MECHANISMS): FailureStore {
    return new FailureStore(sql, null, mechanisms);
  }

  // ——— recording ———

  /** Reads these jobs' rows, for `heldNow()`: one statement per statement-sized run of ids. */
  load(jobIds: readonly string[]): void {
    for (const [jobId, row] of readHeld(this.sql, jobIds.filter((id) => !this.held.has(id)))) this.held.set(jobId, row);
  }

  /** A loaded job as held now (after the occurrences this change wrote), or undefined. */
  heldNow(jobId: string): HeldFailure | undefined {
    return this.held.get(jobId);
  }

  /**
   * Writes an occurrence of a loaded job: its row (a new one, or the held one updated; its fields
   * become the row's if it is the latest by failure time), its place in the time order and the
   * order lists. Returns the failure as held now.
   */
  write(f: FailureInput, w: Written): HeldFailure {
    this.writable();
    const before = this.held.get(f.jobId);
    const latest = !before || f.lastFailedAt >= before.lastFailedAt;
    const after = before ? updateFailure(this.sql, f, before, latest, w) : insertFailure(this.sql, f, w);
    this.held.set(f.jobId, after);
    this.recorded.push(f);
    if (this.mechanisms.orderLists) {
      this.lists.add(orderList.status(after.status), f.jobId, after.lastFailedAt);
      if (latest) {
        this.lists.add(orderList.group(after.group), f.jobId, after.lastFailedAt);
        this.lists.add(orderList.class(after.class), f.jobId, after.lastFailedAt);
      }
    }
    if (!before || f.lastFailedAt > before.lastFailedAt) this.recent.moved(f.jobId, f.lastFailedAt);
    return after;
  }

  /** Writes the groups this change's occurrences fell into: how many are new, which regressed, whose group alert is held back. */
  writeGroups(groups: ReadonlyMap<string, GroupDelta>, now: number): { created: number; regressions: Regression[]; held: string[] } {
    return upsertGroups(this.sql, groups, this.lists, this.recorded, now);
  }

  /** The occurrences recorded in this change, as the outbox carries them to R2, D1 and Analytics Engine. */
  outboxOccurrences(tenantId: string, recordedAt: number): ArchivedOccurrence[] {
    return this.recorded.map(({ sealedBody: _, ...f }) => ({ ...f, tenantId, recordedAt }));
  }

  // ——— status and recovery ———

  recoveryViews(jobIds: readonly string[]): Map<string, RecoveryView> {
    return readRecoveryViews(this.sql, jobIds);
  }

  setStatus(jobId: string, status: FailureStatus): void {
    this.writable();
    writeStatus(this.sql, jobId, status);
    if (!this.mechanisms.orderLists) return;
    const jobs = this.statuses.get(status) ?? new Set<string>();
    jobs.add(jobId);
    this.statuses.set(status, jobs);
  }

  patchRecovery(jobId: string, patch: RecoveryPatch): void {
    patchRecovery(this.sql, jobId, patch);
  }

  /** Edit and requeue: the new body is kept (the occurrence that failed was archived as it came). */
  replaceBody(jobId: string, body: StoredBody): void {
    writeBody(this.sql, jobId, body);
  }

  // ——— what D1 and R2 are owed ———

  /** These failures' state is owed to D1 by outbox row `outboxId`: they stay until it is flushed. */
  owedBy(jobIds: readonly string[], outboxId: number): void {
    stampOwed(this.sql, jobIds, outboxId);
  }

  /** An outbox row's occurrences as archived (a row from before v16 may hold refs: legacy-refs.ts). */
  archived(outboxId: number, occurrences: readonly OutboxOccurrence[]) {
    return resolveOccurrences(this.sql, outboxId, occurrences);
  }

  /** The outbox rows up to `outboxId` are flushed: the fields kept for their refs (if any) go. */
  flushedThrough(outboxId: number): void {
    releaseKeptFields(this.sql, outboxId);
  }

  /** These failures' fields as D1 keeps them. */
  failureFields(jobIds: readonly string[]) {
    return failureFieldsOf(this.sql, jobIds);
  }

  groupFields(fingerprints: readonly string[]) {
    return readGroups(this.sql, fingerprints);
  }

  // ——— reads ———

  page(tenantId: string, query: FailureQuery): FailurePage {
    return listFailures(this.sql, tenantId, query, undefined, this.mechanisms.orderLists);
  }

  failure(tenantId: string, jobId: string): FailureDetail | null {
    return getFailure(this.sql, tenantId, jobId);
  }

  summaries(tenantId: string, jobIds: readonly string[]): FailureSummary[] {
    return failureSummaries(this.sql, tenantId, jobIds);
  }

  groups(limit: number, now: number): GroupSummary[] {
    return listGroups(this.sql, limit, now);
  }

  groupSummaries(fingerprints: readonly string[], now: number): GroupSummary[] {
    return groupSummaries(this.sql, fingerprints, now);
  }

  // ——— triage ———

  /** A group's triage state, or null when the ledger holds no such group. */
  groupState(fingerprint: string): GroupState | null {
    return readGroupState(this.sql, fingerprint);
  }

  /** Sets a group's state and notes the change in its history: who did what, and when. */
  changeGroupState(fingerprint: string, next: GroupState, change: { at: number; actor: string; action: GroupAction; detail?: GroupHistoryEntry["detail"] }): void {
    writeGroupState(this.sql, fingerprint, next);
    appendHistory(this.sql, fingerprint, change.at, change.actor, change.action, change.detail);
  }

  groupHistory(fingerprint: string, limit: number, beforeSeq?: number): GroupHistoryEntry[] {
    return readHistory(this.sql, fingerprint, limit, beforeSeq);
  }

  /**
   * The failures matching `filter` whose status is not one of `excluded`, as an SQL source of
   * (job_id, last_failed_at) rows: what a bulk operation counts, samples and snapshots.
   */
  matching(filter: FailureFilter, excluded: readonly FailureStatus[]): Sql {
    return matchingFailures(filterClauses(filter), excluded);
  }

  // ——— retention ———

  /** Evicts flushed failures, oldest first (see eviction.ts); returns how many left. */
  evictOldest(flushedBelow: number, cutoff: number, over: number): number {
    return evictOldest(this.sql, flushedBelow, cutoff, over);
  }

  /** About the failure time of the oldest failure held (never later); null when none is held. */
  oldestHeld(): number | null {
    return oldestHeld(this.sql);
  }

  /**
   * Rebuilds the order structures from the failure rows as they stand (rows written by SQL
   * directly, as the read bench copies a million of them): the time order, the order lists, and
   * no tails. `now` dates what is ahead of the clock.
   */
  rebuildOrder(now: number): void {
    const { tails } = this.writable();
    rebuildOrder(this.sql, now);
    tails().clear();
  }

  // ——— commit ———

  /**
   * Writes what this change's writes owe the order structures: the status lists' entries, one
   * time-order row, the order lists' tails and spilled rows. Before the outbox and retention:
   * retention walks the time order, which must hold this change's failures.
   */
  commit(now: number): void {
    if (!this.deps) return;
    const tails = this.deps.tails();
    for (const [status, jobs] of this.statuses) this.lists.addHeld(this.sql, orderList.status(status), [...jobs]);
    this.statuses.clear();
    if (!this.recent.empty) this.recent.write(this.sql, tails, this.lists, now);
    if (!this.lists.empty) this.lists.write(this.sql, tails, now);
  }

  /** Writes that order entries follow need a change to commit them. */
  private writable(): StoreDeps {
    if (!this.deps) throw new Error("a read-only store cannot write: write through a change's store");
    return this.deps;
  }
}
