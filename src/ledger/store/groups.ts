// The failure groups (one per fingerprint: normalised error and job type): a row each, with
// its counts, first and last seen, a sample, its triage state, and the tail of its order list
// (order-lists.ts), so a batch that touches a group reads and writes that one row for all of it:
// finding a resolved group regressed costs nothing more. Each change of a group's state is kept
// in group_history.

import type * as Api from "../../contract/schemas";
import type { FailureClass, FailureInput } from "../../model";
import { fitting, run, sql } from "../../sql";
import type { Entry } from "./cursor";
import { nextGroupTail, type ListAppends } from "./order-lists";

/** A group as the API answers it, before its sparkline is added. */
export type GroupSummary = Omit<Api.GroupSummary, "sparkline">;

/** A group's triage state as stored (`new` is a substate computed when read). */
export interface GroupState {
  state: "open" | "resolved";
  substate: "ongoing" | "regressed" | "escalating";
  changedAt: number | null;
  changedBy: string | null;
}

const OPEN: GroupState = { state: "open", substate: "ongoing", changedAt: null, changedBy: null };

/** A resolved group that failed again after it was resolved. */
export interface Regression {
  fingerprint: string;
  /** The first occurrence after the resolve (by failure time). */
  first: FailureInput;
  resolvedAt: number;
  resolvedBy: string | null;
}

/** A group counts as new while it was first seen within this long. */
const NEW_FOR_MS = 24 * 3600_000;

/** What one batch saw of a group. */
export interface GroupDelta {
  input: FailureInput;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

type GroupRow = {
  fingerprint: string;
  queue: string;
  class: FailureClass;
  error_name: string;
  message_sample: string;
  sample_job_id: string;
  count: number;
  first_seen: number;
  last_seen: number;
  state: GroupState["state"];
  substate: GroupState["substate"];
  state_changed_at: number | null;
  state_changed_by: string | null;
};

/** A group row's fields, times in ms: what the API and the D1 flush both start from. */
function groupFields(g: GroupRow) {
  return {
    fingerprint: g.fingerprint,
    queue: g.queue,
    class: g.class,
    errorName: g.error_name,
    messageSample: g.message_sample,
    sampleJobId: g.sample_job_id,
    count: g.count,
    firstSeen: g.first_seen,
    lastSeen: g.last_seen,
  };
}

const groupColumns = sql.raw(
  `fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen, state, substate, state_changed_at, state_changed_by`,
);

export function readGroups(storage: SqlStorage, fingerprints: readonly string[]) {
  return fitting(fingerprints, 1)
    .flatMap((chunk) => run<GroupRow>(storage, sql`SELECT ${groupColumns} FROM groups WHERE fingerprint IN ${sql.list(chunk)}`).toArray())
    .map(groupFields);
}

export function listGroups(storage: SqlStorage, limit: number, now: number): GroupSummary[] {
  return run<GroupRow>(storage, sql`SELECT ${groupColumns} FROM groups ORDER BY last_seen DESC, fingerprint LIMIT ${limit}`)
    .toArray()
    .map((g) => toGroupSummary(g, now));
}

/** These groups as the groups list shows them, most recently seen first. */
export function groupSummaries(storage: SqlStorage, fingerprints: readonly string[], now: number): GroupSummary[] {
  return fitting(fingerprints, 1)
    .flatMap((chunk) => run<GroupRow>(storage, sql`SELECT ${groupColumns} FROM groups WHERE fingerprint IN ${sql.list(chunk)}`).toArray())
    .sort((a, b) => b.last_seen - a.last_seen || a.fingerprint.localeCompare(b.fingerprint))
    .map((g) => toGroupSummary(g, now));
}

function toGroupSummary(g: GroupRow, now: number): GroupSummary {
  const fields = groupFields(g);
  // New: first seen lately and never triaged (a group reopened or acknowledged is ongoing).
  const fresh = g.state === "open" && g.substate === "ongoing" && g.state_changed_at === null && now - g.first_seen < NEW_FOR_MS;
  return {
    ...fields,
    firstSeen: iso(fields.firstSeen),
    lastSeen: iso(fields.lastSeen),
    state: g.state,
    substate: g.state === "open" ? (fresh ? "new" : g.substate) : null,
    stateChangedAt: g.state_changed_at === null ? null : iso(g.state_changed_at),
    stateChangedBy: g.state_changed_by,
  };
}

type StoredGroup = { tail: Entry[]; state: GroupState };

/** The groups among `fingerprints` the ledger already holds: the tail of each one's order list, and its state. */
function storedGroups(storage: SqlStorage, fingerprints: readonly string[]): Map<string, StoredGroup> {
  return new Map(
    fitting(fingerprints, 1).flatMap((chunk) =>
      run<{ fingerprint: string; list_tail: string; state: GroupState["state"]; substate: GroupState["substate"]; state_changed_at: number | null; state_changed_by: string | null }>(
        storage,
        sql`SELECT fingerprint, list_tail, state, substate, state_changed_at, state_changed_by FROM groups WHERE fingerprint IN ${sql.list(chunk)}`,
      )
        .toArray()
        .map((r): [string, StoredGroup] => [
          r.fingerprint,
          { tail: JSON.parse(r.list_tail) as Entry[], state: { state: r.state, substate: r.substate, changedAt: r.state_changed_at, changedBy: r.state_changed_by } },
        ]),
    ),
  );
}

function upsertGroup(storage: SqlStorage, fingerprint: string, g: GroupDelta, listTail: string, state: GroupState): void {
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
    state.state,
    state.substate,
    state.changedAt,
    state.changedBy,
  ]);
  run(
    storage,
    sql`INSERT INTO groups (fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen, list_tail,
          state, substate, state_changed_at, state_changed_by)
        VALUES ${row}
        ON CONFLICT (fingerprint) DO UPDATE SET
          count = count + excluded.count,
          list_tail = excluded.list_tail,
          state = excluded.state,
          substate = excluded.substate,
          state_changed_at = excluded.state_changed_at,
          state_changed_by = excluded.state_changed_by,
          first_seen = MIN(first_seen, excluded.first_seen),
          class = CASE WHEN excluded.last_seen >= last_seen THEN excluded.class ELSE class END,
          message_sample = CASE WHEN excluded.last_seen >= last_seen THEN excluded.message_sample ELSE message_sample END,
          sample_job_id = CASE WHEN excluded.last_seen >= last_seen THEN excluded.sample_job_id ELSE sample_job_id END,
          last_seen = MAX(last_seen, excluded.last_seen)`,
  );
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Writes the batch's groups, each with its list tail and its state: a resolved group that failed
 * again after it was resolved (a late arrival of an older failure does not count) reopens as
 * regressed. Returns how many groups are new, the regressions, and the groups whose group alert is
 * held back: resolved (a late arrival from before the resolve), or regressed (the regression's
 * alert stands for it until a person acts).
 */
export function upsertGroups(
  storage: SqlStorage,
  groups: ReadonlyMap<string, GroupDelta>,
  lists: ListAppends,
  occurrences: readonly FailureInput[],
  now: number,
): { created: number; regressions: Regression[]; held: string[] } {
  const known = storedGroups(storage, [...groups.keys()]);
  let created = 0;
  const regressions: Regression[] = [];
  const held: string[] = [];
  for (const [fingerprint, g] of groups) {
    const stored = known.get(fingerprint);
    let state = stored?.state ?? OPEN;
    if (state.state === "resolved" && state.changedAt !== null) {
      const resolvedAt = state.changedAt;
      const first = occurrences
        .filter((f) => f.fingerprint === fingerprint && f.lastFailedAt > resolvedAt)
        .sort((a, b) => a.lastFailedAt - b.lastFailedAt || (a.jobId < b.jobId ? -1 : 1))[0];
      if (first) {
        regressions.push({ fingerprint, first, resolvedAt, resolvedBy: state.changedBy });
        state = { state: "open", substate: "regressed", changedAt: now, changedBy: "regression" };
        appendHistory(storage, fingerprint, now, "regression", "regressed", { jobId: first.jobId, lastFailedAt: first.lastFailedAt, resolvedAt });
      }
    }
    upsertGroup(storage, fingerprint, g, nextGroupTail(lists, fingerprint, stored?.tail ?? []), state);
    if (!stored) created++;
    if (state.state === "resolved" || state.substate === "regressed") held.push(fingerprint);
  }
  return { created, regressions, held };
}

/** A group's state, or null when the ledger holds no such group. */
export function readGroupState(storage: SqlStorage, fingerprint: string): GroupState | null {
  const r = run<{ state: GroupState["state"]; substate: GroupState["substate"]; state_changed_at: number | null; state_changed_by: string | null }>(
    storage,
    sql`SELECT state, substate, state_changed_at, state_changed_by FROM groups WHERE fingerprint = ${fingerprint}`,
  ).toArray()[0];
  return r ? { state: r.state, substate: r.substate, changedAt: r.state_changed_at, changedBy: r.state_changed_by } : null;
}

export function writeGroupState(storage: SqlStorage, fingerprint: string, s: GroupState): void {
  run(
    storage,
    sql`UPDATE groups SET state = ${s.state}, substate = ${s.substate}, state_changed_at = ${s.changedAt}, state_changed_by = ${s.changedBy}
        WHERE fingerprint = ${fingerprint}`,
  );
}

/** What changed a group's state: a person's triage action, or a failure after its resolve. */
export type GroupAction = "resolve" | "acknowledge" | "reopen" | "regressed";

/** One entry of a group's history: who did what to it, and when. */
export interface GroupHistoryEntry {
  seq: number;
  at: number;
  actor: string;
  action: GroupAction;
  detail: Record<string, string | number | null> | null;
}

export function appendHistory(storage: SqlStorage, fingerprint: string, at: number, actor: string, action: GroupAction, detail?: GroupHistoryEntry["detail"]): void {
  run(
    storage,
    sql`INSERT INTO group_history (fingerprint, seq, at, actor, action, detail)
        SELECT ${fingerprint}, COALESCE(MAX(seq), 0) + 1, ${at}, ${actor}, ${action}, ${detail === undefined ? null : JSON.stringify(detail)}
        FROM group_history WHERE fingerprint = ${fingerprint}`,
  );
}

/** A group's history, newest first, `limit` entries before `beforeSeq` (if given). */
export function readHistory(storage: SqlStorage, fingerprint: string, limit: number, beforeSeq?: number): GroupHistoryEntry[] {
  return run<{ seq: number; at: number; actor: string; action: GroupAction; detail: string | null }>(
    storage,
    sql`SELECT seq, at, actor, action, detail FROM group_history
        WHERE fingerprint = ${fingerprint} AND seq < ${beforeSeq ?? Number.MAX_SAFE_INTEGER} ORDER BY seq DESC LIMIT ${limit}`,
  )
    .toArray()
    .map((r) => ({ ...r, detail: r.detail === null ? null : (JSON.parse(r.detail) as GroupHistoryEntry["detail"]) }));
}
