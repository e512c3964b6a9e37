// Bulk requeue / abandon by filter. A dry run previews the count; an execution snapshots exactly
// what matched at that moment and works through it in chunks at the requested rate, one alarm
// run per chunk, so it resumes after a crash and reports progress and per-item errors.

import type { Change } from "../change";
import type { LedgerCore } from "../core";
import { counterKey } from "../aggregates/counters";
import { FailureStore, type FailureFilter } from "../store";
import { viewOperation, type OperationAction, type OperationRequest, type OperationRow, type OperationView } from "./operation-views";
import { refuse, type Refusable } from "../refusal";
import { scheduleAt, unschedule } from "../scheduler";
import { markAbandoned, markRequeued, requeueBlocker, type Actor } from "./manual";
import { sendToOrigins } from "./send";
import { fitting, run, sql, type Sql } from "../../sql";

/** Per run of the alarm, at most this many items (and at most `rate`). */
const CHUNK = 100;
/** A snapshot larger than this is refused: narrow the filter. */
export const MAX_SNAPSHOT = 100_000;

/** The failures an action can apply to: never abandoned ones, nor recovered ones for a requeue. */
function matching(storage: SqlStorage, filter: FailureFilter, action: OperationAction): Sql {
  const source = FailureStore.readOnly(storage).matching(filter, action === "abandon" ? ["abandoned"] : ["abandoned", "recovered"]);
  return sql`FROM ${source}`;
}

export function preview(storage: SqlStorage, request: Pick<OperationRequest, "action" | "filter">): { matched: number; sample: string[] } {
  const m = matching(storage, request.filter, request.action);
  const matched = run<{ n: number }>(storage, sql`SELECT COUNT(*) AS n ${m}`).one().n;
  const sample = run<{ job_id: string }>(storage, sql`SELECT job_id ${m} ORDER BY last_failed_at DESC, job_id LIMIT 10`)
    .toArray()
    .map((r) => r.job_id);
  return { matched, sample };
}

export function startOperation(c: Change, request: OperationRequest, by: string): Refusable<OperationView> {
  const storage = c.sql;
  const id = `op-${crypto.randomUUID()}`;
  const { matched } = preview(storage, request);
  if (matched > MAX_SNAPSHOT) return refuse("too_many", `the filter matches ${matched} failures; narrow it to at most ${MAX_SNAPSHOT} per operation`);
  const m = matching(storage, request.filter, request.action);
  // The snapshot: exactly these jobs, whatever arrives later.
  run(
    storage,
    sql`INSERT INTO operation_items (operation_id, seq, job_id, state)
      SELECT ${id}, ROW_NUMBER() OVER (ORDER BY last_failed_at, job_id) - 1, job_id, 'pending' ${m}`,
  );
  const options = JSON.stringify({ reason: request.reason ?? null, delaySeconds: request.delaySeconds ?? 0 });
  run(
    storage,
    sql`INSERT INTO operations (id, action, filter, rate, options, status, total, actor, created_at, updated_at)
      VALUES (${id}, ${request.action}, ${JSON.stringify(request.filter)}, ${request.rate}, ${options}, 'running', ${matched}, ${by}, ${c.now}, ${c.now})`,
  );
  scheduleAt(storage, "operation", id, c.now);
  c.live.operations.push(id);
  return viewOperation(storage, id)!;
}

/**
 * One chunk of an operation: requeues or abandons the next items of its snapshot (at most CHUNK,
 * and at most its rate), records each item's outcome and the operation's progress, and schedules
 * the next chunk at the pace the rate allows, or finishes the operation after its last item.
 */
export async function stepOperation(core: LedgerCore, id: string, now: number): Promise<void> {
  const storage = core.sql;
  const op = run<OperationRow>(storage, sql`SELECT * FROM operations WHERE id = ${id}`).toArray()[0];
  if (!op || op.status !== "running") {
    core.transact(() => unschedule(storage, "operation", id), now);
    return;
  }
  const size = Math.min(CHUNK, op.rate);
  const items = run<{ seq: number; job_id: string; state: string }>(
    storage,
    sql`SELECT seq, job_id, state FROM operation_items WHERE operation_id = ${id} AND seq >= ${op.next_seq} ORDER BY seq LIMIT ${size}`,
  ).toArray();
  const options = JSON.parse(op.options) as { reason: string | null; delaySeconds: number };
  const by: Actor = { actor: op.actor, operationId: id };
  const rows = FailureStore.readOnly(storage).recoveryViews(items.map((i) => i.job_id));
  const outcome = new Map<string, string | null>();

  if (op.action === "requeue") {
    const sendable = items.filter((i) => {
      const blocked = requeueBlocker(core.settings.recovery, core.env, rows.get(i.job_id));
      outcome.set(i.job_id, blocked);
      return blocked === null;
    });
    // Marked before sending: after a crash here, the resumed run finds them 'sending' and counts
    // what it sends again. (The states were read above, with nothing awaited since.)
    const resent = sendable.filter((i) => i.state === "sending").length;
    const toMark = sendable.filter((i) => i.state !== "sending").map((i) => i.seq);
    core.transact(({ deltas }) => {
      deltas.add(counterKey.resends, resent);
      for (const seqs of fitting(toMark, 1, 1)) {
        run(storage, sql`UPDATE operation_items SET state = 'sending' WHERE operation_id = ${id} AND seq IN ${sql.list(seqs)}`);
      }
    }, now);
    const errors = await sendToOrigins(
      core.env,
      core.settings.recovery,
      sendable.map((i) => {
        const row = rows.get(i.job_id)!;
        return { jobId: i.job_id, queue: row.queue, body: row.body, bodyEncoding: row.bodyEncoding, sealedBody: row.sealedBody, delaySeconds: options.delaySeconds };
      }),
    );
    for (const i of sendable) outcome.set(i.job_id, errors.get(i.job_id) ?? null);
  }

  core.transact((c) => {
    // Re-read: a person may have acted on some of these while the sends were in flight.
    const current = c.store.recoveryViews(items.map((i) => i.job_id));
    let done = 0;
    let failed = 0;
    for (const item of items) {
      const row = current.get(item.job_id);
      let error = outcome.get(item.job_id) ?? null;
      if (op.action === "abandon") {
        error = !row ? "no such failure" : row.status === "abandoned" ? "already abandoned" : null;
        if (!error) markAbandoned(c, row!, by, options.reason ?? "bulk abandon");
      } else if (!error && row) {
        markRequeued(c, row, by, options.delaySeconds);
      }
      if (error) failed++;
      else done++;
      run(
        storage,
        sql`UPDATE operation_items SET state = ${error ? "failed" : "done"}, error = ${error} WHERE operation_id = ${id} AND seq = ${item.seq}`,
      );
    }
    const nextSeq = op.next_seq + items.length;
    const finished = nextSeq >= op.total;
    run(
      storage,
      sql`UPDATE operations SET next_seq = ${nextSeq}, done = done + ${done}, failed = failed + ${failed}, updated_at = ${c.now},
          status = ${finished ? "done" : "running"}, finished_at = ${finished ? c.now : null}
        WHERE id = ${id}`,
    );
    if (finished) unschedule(storage, "operation", id);
    else scheduleAt(storage, "operation", id, c.now + Math.ceil((items.length / op.rate) * 1000));
    c.deltas.add(counterKey.operationItems, items.length);
    c.live.operations.push(id);
  }, now);
}
