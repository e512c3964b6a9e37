// The outbox keeps a whole copy of an occurrence only when its failure row does not hold it at
// the end of its batch; the row's latest occurrence is archived from the row, or from the fields
// kept for it when the row moves on before the flush. Whatever happens between the
// record and the flush (a later occurrence, one dated earlier, two in one batch, a flush cut
// short after its segment), every occurrence is archived as it came, once, and D1 points at
// the right line.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { pendingOutbox } from "../../src/ledger/outbox";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { asV14, wholeCopiesAsBeforeV14 } from "../support/schema";
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

/** Each outbox row's occurrences: `job:n` for a whole copy, `job:n*` for a ref, `job:n+` for a ref whose fields were kept. */
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

describe("occurrences archived from their failure rows", () => {
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
    // a:1's fields were kept when a:2 took its row; a:2 is whole as a:3 followed it in its batch.
    expect(await outboxShape(stub)).toEqual([
      ["a:1+", "b:1*", "c:1*"],
      ["c:2*", "a:2", "a:3*", "b:2"],
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

  it("keeps a segment's pointers right when a ref's fields are kept after the segment was written", async () => {
    const tenant = uniqueTenant("refs-cut");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const first = [occurrence("a", 1, T - 50_000), occurrence("b", 1, T - 50_000), occurrence("c", 1, T - 50_000)];
    await stub.record(first);
    // The segment is written, then D1 fails: the outbox row stays, its refs already laid out in R2.
    armFault("d1.batch", { key: tenant });
    await runFlush(stub);
    expect(await archived(tenant)).toHaveLength(3);
    disarmFaults();

    await tuneLedger(stub, { now: T + 1000 });
    const later = occurrence("b", 2, T - 10_000, { body: JSON.stringify({ jobId: "b", n: 2, padding: "x".repeat(300) }) });
    await stub.record([later]);
    expect(await outboxShape(stub)).toEqual([["a:1*", "b:1+", "c:1*"], ["b:2*"]]);

    await flushAll(stub);
    expect(await archived(tenant)).toEqual([...first.map((f) => asArchived(f, tenant, T)), asArchived(later, tenant, T + 1000)]);
    const pointers = await pointedAt(tenant);
    expect(pointers.get("a")).toEqual(asArchived(first[0]!, tenant, T));
    expect(pointers.get("b")).toEqual(asArchived(later, tenant, T + 1000));
    expect(pointers.get("c")).toEqual(asArchived(first[2]!, tenant, T));
  });

  it("flushes a v14 ledger whose outbox still holds whole copies from before v14: both kinds as they came", async () => {
    const tenant = uniqueTenant("refs-v14");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const first = [occurrence("a", 1, T - 50_000), occurrence("b", 1, T - 50_000)];
    await stub.record(first);
    await runInDurableObject(stub, (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      // As a v13 ledger's unflushed outbox stayed once v14 code upgraded it.
      wholeCopiesAsBeforeV14(sql);
      asV14(state.storage);
      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(sql.exec(`SELECT archive_ref FROM failures ORDER BY job_id`).toArray()).toEqual([{ archive_ref: null }, { archive_ref: null }]);
    });
    expect(await outboxShape(stub)).toEqual([["a:1", "b:1"]]);
    await tuneLedger(stub, { now: T + 1000 });
    const later = occurrence("a", 2, T - 10_000);
    await stub.record([later]);
    expect(await outboxShape(stub)).toEqual([["a:1", "b:1"], ["a:2*"]]);
    await flushAll(stub);
    expect(await archived(tenant)).toEqual([...first.map((f) => asArchived(f, tenant, T)), asArchived(later, tenant, T + 1000)]);
  });

  it("budgets a flush by the lines it will archive, not by the refs' size", async () => {
    const tenant = uniqueTenant("refs-budget");
    const stub = ledger(tenant);
    await tuneLedger(stub, { now: T });
    const big = (jobId: string) => occurrence(jobId, 1, T - 1000, { body: JSON.stringify({ jobId, blob: "x".repeat(60_000) }) });
    await stub.record([big("a"), big("b")]);
    await stub.record([big("c"), big("d")]);
    await runInDurableObject(stub, (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      const rows = sql.exec<{ occurrences: string; archive_bytes: number }>(`SELECT occurrences, archive_bytes FROM outbox ORDER BY id`).toArray();
      expect(rows.map((r) => r.occurrences.length < 1000)).toEqual([true, true]);
      expect(rows.map((r) => r.archive_bytes > 120_000)).toEqual([true, true]);
      // A budget for one row's lines takes one row, though both rows' refs would fit many times.
      expect(pendingOutbox(sql, 150_000)).toHaveLength(1);
      expect(pendingOutbox(sql, 300_000)).toHaveLength(2);
    });
  });
});
