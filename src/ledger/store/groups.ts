// The failure groups (one per fingerprint: normalised error and job type): a row each, with
// its counts, first and last seen, a sample, and the tail of its order list (order-lists.ts),
// so a batch that touches a group writes that one row for all of it.

import type * as Api from "../../contract/schemas";
import type { FailureClass, FailureInput } from "../../model";
import { fitting, run, sql } from "../../sql";
import type { Entry } from "./cursor";
import { nextGroupTail, type ListAppends } from "./order-lists";

/** A group as the API answers it, before its sparkline is added. */
export type GroupSummary = Omit<Api.GroupSummary, "sparkline">;

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

const groupColumns = sql.raw(`fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen`);

export function readGroups(storage: SqlStorage, fingerprints: readonly string[]) {
  return fitting(fingerprints, 1)
    .flatMap((chunk) => run<GroupRow>(storage, sql`SELECT ${groupColumns} FROM groups WHERE fingerprint IN ${sql.list(chunk)}`).toArray())
    .map(groupFields);
}

export function listGroups(storage: SqlStorage, limit: number): GroupSummary[] {
  return run<GroupRow>(storage, sql`SELECT ${groupColumns} FROM groups ORDER BY last_seen DESC, fingerprint LIMIT ${limit}`)
    .toArray()
    .map((g) => toGroupSummary(groupFields(g)));
}

/** These groups as the groups list shows them, most recently seen first. */
export function groupSummaries(storage: SqlStorage, fingerprints: readonly string[]): GroupSummary[] {
  return readGroups(storage, fingerprints)
    .sort((a, b) => b.lastSeen - a.lastSeen || a.fingerprint.localeCompare(b.fingerprint))
    .map(toGroupSummary);
}

function toGroupSummary(fields: ReturnType<typeof groupFields>): GroupSummary {
  return { ...fields, firstSeen: iso(fields.firstSeen), lastSeen: iso(fields.lastSeen) };
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

const iso = (ms: number) => new Date(ms).toISOString();

/** Writes the batch's groups, each with its list tail; returns how many are new. */
export function upsertGroups(storage: SqlStorage, groups: ReadonlyMap<string, GroupDelta>, lists: ListAppends): number {
  const known = storedGroupTails(storage, [...groups.keys()]);
  let created = 0;
  for (const [fingerprint, g] of groups) {
    const tail = known.get(fingerprint);
    upsertGroup(storage, fingerprint, g, nextGroupTail(lists, fingerprint, tail ?? []));
    if (!tail) created++;
  }
  return created;
}
