// The outbox keeps a whole copy of every occurrence. Whatever happens between the record and the
// flush (a later occurrence, one dated earlier, two in one batch, a flush cut short after its
// segment), every occurrence is archived as it came, once, and D1 points at the right line; and
// a ledger upgraded while its outbox held refs (written before v16, see legacy-refs.ts) archives
// those as they came too.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { asV14 } from "../support/schema";
import { armFault, disarmFaults } from "../../src/faults";
import type { FailureInput } from "../../src/model";
import { FUTURE, d1Of, failureInput, flushAll, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";

afterEach(() => disarmFaults());

// Alarms set from this time never fire on their own: the test runs them.
const T = FUTURE;

const occurrence = (jobId: string, n: number, lastFailedAt: number, extra: Partial<FailureInput> = {}) =>
  failureInput({
    jobId,
    occurrenceKey: `${jobId}:${n}`,
    lastFailedAt,
    firstFailedAt: lastFailedAt - 1000,
    attempts: n,
    body: JSON.stringify({ jobId, n }),
    error: { name: "Error", message: `failure ${n} of ${jobId}`, status: 500 },
    ...extra,
  });

/** Each outbox row's occurrences: `job:n` for a whole copy, `job:n*` for a ref, `job:n+` for a ref whose fields are kept. */
const outboxShape = (stub: DurableObjectStub<FailureLedger>) =>
  runInDurableObject(stub, (_i: FailureLedger, state) => {
    const sql = state.storage.sql;
    const kept = new Set(sql.exec<{ k: string }>(`SELECT outbox_id || ' ' || job_id AS k FROM archived_fields`).toArray().map((r) => r.k));
    return sql
      .exec<{ id: number; occurrences: string }>(`SELECT id, occurrences FROM outbox ORDER BY id`)
      .toArray()
      .map((r) =>
        (JSON.parse(r.occurrences) as { ref?: true; jobId: string; occurrenceKey: string }[]).map(
          (o) => `${o.occurrenceKey}${o.ref ? (kept.has(`${r.id} ${o.jobId}`) ? "+" : "*") : ""}`,
        ),
      );
  });

/** Every line of every segment of the tenant, parsed. */
async function archived(tenant: string): Promise<Record<string, unknown>[]> {
  const { objects } = await env.ARCHIVE.list({ prefix: `${tenant}/` });
  const lines: Record<string, unknown>[] = [];
  for (const o of objects.sort((a, b) => a.key.localeCompare(b.key))) {
    lines.push(...(await (await env.ARCHIVE.get(o.key))!.text()).trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>));
  }
  return lines;
}

/** Each D1 failure's archive pointer, read back: the line it points at. */
async function pointedAt(tenant: string): Promise<Map<string, Record<string, unknown>>> {
  const { results } = await (await d1Of(tenant))
    .prepare(`SELECT job_id, archive_key, archive_offset, archive_length FROM failures WHERE tenant_id = ?`)
    .bind(tenant)
    .all<{ job_id: string; archive_key: string; archive_offset: number; archive_length: number }>();
  const lines = new Map<string, Record<string, unknown>>();
  for (const r of results) {
    const part = await env.ARCHIVE.get(r.archive_key, { range: { offset: r.archive_offset, length: r.archive_length } });
    lines.set(r.job_id, JSON.parse(await part!.text()) as Record<string, unknown>);
  }
  return lines;
}

/** An occurrence as its archived line reads (a JSON body inlined). */
const asArchived = (f: FailureInput, tenant: string, recordedAt: number) => ({ ...f, body: JSON.parse(f.body) as unknown, tenantId: tenant, recordedAt });

describe("occurrences archived as they came", () => {
  it("archives every occurrence as it came: superseded before the flush, dated earlier, or two in one batch", async () => {
    const tenant = uniqueTenant("refs");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const same = { body: JSON.stringify({ jobId: "c" }), error: { name: "Error", message: "the same each time", status: 500 } };
    const first = [occurrence("a", 1, T - 50_000), occurrence("b", 1, T - 50_000), occurrence("c", 1, T - 50_000, same)];
    await stub.record(first);
    await tuneLedger(stub, { now: T + 1000 });
    const second = [
      occurrence("c", 2, T - 45_000, same), // leaves c's fields as they are: nothing to keep
      occurrence("a", 2, T - 40_000, { class: "USER_ERROR", fingerprint: "ffffffffffffffff" }), // supersedes a:1, still unflushed
      occurrence("a", 3, T - 30_000), // and again, in the same batch
      occurrence("b", 2, T - 60_000), // dated before b:1: the row keeps b:1
    ];
    await stub.record(second);
    expect(await outboxShape(stub)).toEqual([
      ["a:1", "b:1", "c:1"],
      ["c:2", "a:2", "a:3", "b:2"],
    ]);

    await flushAll(stub);
    expect(await archived(tenant)).toEqual([
      ...first.map((f) => asArchived(f, tenant, T)),
      ...second.map((f) => asArchived(f, tenant, T + 1000)),
    ]);
    const pointers = await pointedAt(tenant);
    expect(pointers.get("a")).toMatchObject({ occurrenceKey: "a:3" });
    expect(pointers.get("b")).toMatchObject({ occurrenceKey: "b:1" });
    expect(pointers.get("c")).toMatchObject({ occurrenceKey: "c:2" });
  });

  it("keeps a segment's pointers right when the row moves on after the segment was written", async () => {
    const tenant = uniqueTenant("refs-cut");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const first = [occurrence("a", 1, T - 50_000), occurrence("b", 1, T - 50_000), occurrence("c", 1, T - 50_000)];
    await stub.record(first);
    // The segment is written, then D1 fails: the outbox row stays, its lines already laid out in R2.
    armFault("d1.batch", { key: tenant });
    await runFlush(stub);
    expect(await archived(tenant)).toHaveLength(3);
    disarmFaults();

    await tuneLedger(stub, { now: T + 1000 });
    const later = occurrence("b", 2, T - 10_000, { body: JSON.stringify({ jobId: "b", n: 2, padding: "x".repeat(300) }) });
    await stub.record([later]);
    expect(await outboxShape(stub)).toEqual([["a:1", "b:1", "c:1"], ["b:2"]]);

    await flushAll(stub);
    expect(await archived(tenant)).toEqual([...first.map((f) => asArchived(f, tenant, T)), asArchived(later, tenant, T + 1000)]);
    const pointers = await pointedAt(tenant);
    expect(pointers.get("a")).toEqual(asArchived(first[0]!, tenant, T));
    expect(pointers.get("b")).toEqual(asArchived(later, tenant, T + 1000));
    expect(pointers.get("c")).toEqual(asArchived(first[2]!, tenant, T));
  });

  it("flushes a ledger upgraded while its outbox held refs (written by v14 and v15): every occurrence as it came", async () => {
    const tenant = uniqueTenant("refs-v15");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const first = [occurrence("a", 1, T - 50_000), occurrence("b", 1, T - 50_000)];
    await stub.record(first);
    await tuneLedger(stub, { now: T + 1000 });
    const second = [occurrence("a", 2, T - 40_000)];
    await stub.record(second);
    await runInDurableObject(stub, (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      // The outbox as v15 code left it: each row's latest occurrence a ref to its row (a:2, b:1),
      // a:1's fields kept when a:2 took its row.
      asV15WithRefs(sql);
      // v15's tables are v14's (v15 is the baseline of what v14 left): laid out as v14, then upgraded.
      asV14(state.storage);
      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
    });
    expect(await outboxShape(stub)).toEqual([["a:1+", "b:1+"], ["a:2+"]]);
    // The row moves on before the flush: the refs' lines come from the fields the upgrade kept.
    await tuneLedger(stub, { now: T + 2000 });
    const third = [occurrence("a", 3, T - 30_000, { body: JSON.stringify({ jobId: "a", n: 3, padding: "y".repeat(200) }) })];
    await stub.record(third);
    await flushAll(stub);
    expect(await archived(tenant)).toEqual([
      ...first.map((f) => asArchived(f, tenant, T)),
      ...second.map((f) => asArchived(f, tenant, T + 1000)),
      ...third.map((f) => asArchived(f, tenant, T + 2000)),
    ]);
    expect((await pointedAt(tenant)).get("a")).toEqual(asArchived(third[0]!, tenant, T + 2000));
    await runInDurableObject(stub, (_i: FailureLedger, state) => {
      expect(state.storage.sql.exec(`SELECT COUNT(*) AS n FROM archived_fields`).one()).toEqual({ n: 0 });
    });
  });
});

/**
 * The outbox as v15 code wrote it (the rows hold whole copies now): the occurrence each failure
 * row holds becomes a ref to it (the row's archive_ref names the outbox row), and an occurrence
 * its row has moved on from keeps its fields in archived_fields, as v15 did.
 */
function asV15WithRefs(sql: SqlStorage): void {
  const rows = sql.exec<{ id: number; occurrences: string }>(`SELECT id, occurrences FROM outbox ORDER BY id`).toArray();
  const held = new Map(sql.exec<{ job_id: string; last_failed_at: number }>(`SELECT job_id, last_failed_at FROM failures`).toArray().map((r) => [r.job_id, r.last_failed_at]));
  for (const row of rows) {
    const occurrences = (JSON.parse(row.occurrences) as (FailureInput & { tenantId: string; recordedAt: number })[]).map((o) => {
      const ref = { ref: true, lineBytes: 1000, jobId: o.jobId, occurrenceKey: o.occurrenceKey, ...(o.userId === undefined ? {} : { userId: o.userId }), queue: o.queue, attempts: o.attempts, firstFailedAt: o.firstFailedAt, lastFailedAt: o.lastFailedAt, tenantId: o.tenantId, recordedAt: o.recordedAt };
      if (held.get(o.jobId) === o.lastFailedAt) {
        sql.exec(`UPDATE failures SET archive_ref = ? WHERE job_id = ?`, row.id, o.jobId);
      } else {
        sql.exec(
          `INSERT INTO archived_fields (outbox_id, job_id, class, reason, group_fp, error, body, body_encoding, body_redacted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0)`,
          row.id, o.jobId, o.class, o.reason, o.fingerprint, o.error ? JSON.stringify(o.error) : null, o.body, o.bodyEncoding,
        );
      }
      return ref;
    });
    sql.exec(`UPDATE outbox SET occurrences = ? WHERE id = ?`, JSON.stringify(occurrences), row.id);
  }
}
