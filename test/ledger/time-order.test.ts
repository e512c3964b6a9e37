// The ledger's time order (ledger v11): an append-only list of job ids, one row per change,
// instead of an index entry per failure. Pages read from it must agree with a scan of the
// failures in every case the list makes hard: failures arriving late, repeats that move a
// failure to the top, and a failure dated far ahead of the clock.

import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { listFailures } from "../../src/ledger/store/pages";
import { Head } from "../../src/ledger/head";
import { FailureStore } from "../../src/ledger/store";
import { applyRetention } from "../../src/ledger/retention";
import type { FailureInput } from "../../src/model";
import { FUTURE, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { scanned, walk } from "../support/pages";

const MINUTE = 60_000;

/** Three batches a minute apart; the second brings failures dated before the first's, a repeat, and one dated a day ahead. */
async function recordOutOfOrder(stub: DurableObjectStub<FailureLedger>, t: number): Promise<void> {
  const at = (id: string, lastFailedAt: number, extra: Partial<FailureInput> = {}) =>
    failureInput({ jobId: id, lastFailedAt, firstFailedAt: lastFailedAt, queue: Number(id.slice(1)) % 3 === 0 ? "mail" : "jobs", ...extra });
  await tuneLedger(stub, { now: t + MINUTE });
  await stub.record(Array.from({ length: 40 }, (_, i) => at(`a${i}`, t + i * 1000)));
  await tuneLedger(stub, { now: t + 2 * MINUTE });
  await stub.record([
    ...Array.from({ length: 30 }, (_, i) => at(`b${i}`, t + 10_500 + i * 1000)), // late: among the first batch's times
    at("a3", t + 2 * MINUTE - 1, { occurrenceKey: "again" }), // a repeat: a3 moves to the top
    at("ahead", t + 2 * MINUTE + 24 * 60 * MINUTE), // a clock a day fast
  ]);
  await tuneLedger(stub, { now: t + 3 * MINUTE });
  await stub.record(Array.from({ length: 20 }, (_, i) => at(`c${i}`, t + 2 * MINUTE + i * 1000)));
}

describe("the time order", () => {
  it("serves every page newest first as a scan would, with late, repeated and ahead-dated failures", async () => {
    const tenant = uniqueTenant("order");
    const stub = ledger(tenant);
    await recordOutOfOrder(stub, FUTURE);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const all = scanned(sql);
      expect(all).toHaveLength(91);
      expect([all[0], all[21]]).toEqual(["ahead", "a3"]);
      for (const limit of [1, 7, 50]) expect(walk(sql, tenant, {}, limit), `limit ${limit}`).toEqual(all);
      // A filtered page looks at no more than its budget, and its cursor goes on from there.
      for (const budget of [5, 13, 10_000]) expect(walk(sql, tenant, { queue: "mail" }, 4, budget), `budget ${budget}`).toEqual(scanned(sql, `queue = 'mail'`));
      // With a budget of 5, the first page is the matches among the 5 newest, and goes on from the 5th.
      const mail = scanned(sql, `queue = 'mail'`);
      const first = listFailures(sql, tenant, { queue: "mail", limit: 50 }, 5);
      expect(first.items.map((i) => i.jobId)).toEqual(all.slice(0, 5).filter((id) => mail.includes(id)));
      expect(first.next).toMatchObject({ jobId: all[4] });
      // No index on the failures: the list is the only order kept per failure.
      expect(sql.exec(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'failures'`).toArray()).toEqual([]);
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM recent`).one().n).toBe(3);
    });
  });

  it("puts failures dated ahead back into the order once the clock catches up with them, off the ahead list", async () => {
    const tenant = uniqueTenant("order-ahead");
    const stub = ledger(tenant);
    const t = FUTURE;
    const HOUR = 60 * MINUTE;
    await tuneLedger(stub, { now: t });
    await stub.record([
      ...Array.from({ length: 130 }, (_, i) => failureInput({ jobId: `h${i}`, lastFailedAt: t + HOUR + i })),
      ...Array.from({ length: 10 }, (_, i) => failureInput({ jobId: `n${i}`, lastFailedAt: t - i * 1000 })),
    ]);
    await stub.record(Array.from({ length: 20 }, (_, i) => failureInput({ jobId: `hh${i}`, lastFailedAt: t + 2 * HOUR + i })));
    const ahead = (sql: SqlStorage) => ({
      rows: sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM order_lists WHERE list = 'a:ahead'`).one().n,
      tail: sql.exec<{ n: number | null }>(`SELECT json_array_length(list_tails, '$."a:ahead"') AS n FROM ledger_head`).one().n ?? 0,
    });
    const expectServed = (sql: SqlStorage) => {
      const all = scanned(sql);
      for (const limit of [7, 50]) expect(walk(sql, tenant, {}, limit)).toEqual(all);
      expect(walk(sql, tenant, { queue: "jobs" }, 9, 40)).toEqual(all);
    };
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      expect(ahead(state.storage.sql)).toEqual({ rows: 1, tail: 20 });
      expectServed(state.storage.sql);
    });

    // 90 minutes on, the first 130 are no longer ahead: the next record puts them back into the order.
    await tuneLedger(stub, { now: t + 90 * MINUTE });
    await stub.record([failureInput({ jobId: "later", lastFailedAt: t + 90 * MINUTE })]);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      expect(ahead(state.storage.sql)).toEqual({ rows: 0, tail: 20 });
      expectServed(state.storage.sql);
    });
    await tuneLedger(stub, { now: t + 3 * HOUR });
    await stub.record([failureInput({ jobId: "latest", lastFailedAt: t + 3 * HOUR })]);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      expect(ahead(state.storage.sql)).toEqual({ rows: 0, tail: 0 });
      expectServed(state.storage.sql);
      expect(scanned(state.storage.sql).slice(0, 3)).toEqual(["latest", "hh19", "hh18"]);
    });
  });

  it("puts a backlog of failures dated ahead back a few list rows per record", async () => {
    const tenant = uniqueTenant("order-backlog");
    const stub = ledger(tenant);
    const t = FUTURE;
    await tuneLedger(stub, { now: t });
    for (let b = 0; b < 6; b++) await stub.record(Array.from({ length: 100 }, (_, i) => failureInput({ jobId: `h${b}-${i}`, lastFailedAt: t + 3600_000 + b * 100 + i })));
    const aheadRows = (sql: SqlStorage) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM order_lists WHERE list = 'a:ahead'`).one().n;
    await runInDurableObject(stub, (_instance: FailureLedger, state) => expect(aheadRows(state.storage.sql)).toBe(6));
    await tuneLedger(stub, { now: t + 2 * 3600_000 });
    for (const [i, left] of [[0, 2], [1, 0]] as const) {
      await stub.record([failureInput({ jobId: `now${i}`, lastFailedAt: t + 2 * 3600_000 + i })]);
      await runInDurableObject(stub, (_instance: FailureLedger, state) => {
        const sql = state.storage.sql;
        expect(aheadRows(sql)).toBe(left);
        expect(walk(sql, tenant, {}, 50)).toEqual(scanned(sql));
      });
    }
  });

  // Rows of one failure make steps of 100 rows (read as a range), rows of two steps of 50 (named).
  it.each([1, 2])("pages many small rows of %i, some holding failures that arrived late, as a scan would", async (perRow) => {
    const tenant = uniqueTenant("order-small");
    const stub = ledger(tenant);
    const t = FUTURE;
    // 200 rows a second apart; in every 7th, one failure (queue "late") arrived 45 s late.
    for (let i = 0; i < 200; i++) {
      await tuneLedger(stub, { now: t + i * 1000 });
      await stub.record(
        Array.from({ length: perRow }, (_, k) => {
          const late = i % 7 === 3 && k === 0;
          return failureInput({ jobId: `s${i}-${k}`, lastFailedAt: t + i * 1000 + k - (late ? 45_000 : 0), queue: late ? "late" : (i + k) % 5 === 0 ? "mail" : "jobs" });
        }),
      );
    }
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const all = scanned(sql);
      expect(all).toHaveLength(200 * perRow);
      for (const limit of [7, 50]) expect(walk(sql, tenant, {}, limit), `limit ${limit}`).toEqual(all);
      for (const queue of ["mail", "late"]) {
        for (const budget of [13, 90, 10_000]) expect(walk(sql, tenant, { queue }, 4, budget), `${queue}, budget ${budget}`).toEqual(scanned(sql, `queue = '${queue}'`));
      }
    });
  });

  it("evicts oldest first, by the row bound and by age, and keeps the rest in order", async () => {
    const tenant = uniqueTenant("order-evict");
    const stub = ledger(tenant);
    const t = FUTURE;
    await tuneLedger(stub, { flushDelayMs: 0 });
    await recordOutOfOrder(stub, t);
    await runFlush(stub);
    // Held to 60 rows: the 32 oldest of the first batch leave. The second batch's failures, dated
    // among them but recorded later, leave with the rows recorded before them, not before them.
    await tuneLedger(stub, { now: t + 3 * MINUTE, retention: { maxRows: 60 } });
    await stub.record([failureInput({ jobId: "d0", lastFailedAt: t + 3 * MINUTE })]);
    await runFlush(stub);
    const expectHeld = (count: number) =>
      runInDurableObject(stub, (_instance: FailureLedger, state) => {
        const sql = state.storage.sql;
        const all = scanned(sql);
        expect(all).toHaveLength(count);
        expect(walk(sql, tenant, {}, 9)).toEqual(all);
        return all;
      });
    const held = await expectHeld(60);
    const first = Array.from({ length: 40 }, (_, i) => `a${i}`);
    expect(first.filter((id) => held.includes(id))).toEqual(["a3", "a33", "a34", "a35", "a36", "a37", "a38", "a39"]);
    expect(held).toContain("b0");
    expect(await stub.stats()).toMatchObject({ total: 92, rows: 60, evicted: 32 });

    // A day and ten minutes later, by age: everything but the failure dated a day ahead leaves.
    const day = 24 * 60 * MINUTE;
    const evicted = await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const held = { sql: state.storage.sql, head: Head.read(state.storage.sql), store: FailureStore.readOnly(state.storage.sql) };
      const n = applyRetention(held, { maxRows: 1000, maxAgeMs: day }, t + day + 10 * MINUTE);
      held.head.save();
      return n;
    });
    expect(evicted).toBe(59);
    expect(await expectHeld(1)).toEqual(["ahead"]);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(sql.exec(`SELECT entries FROM recent`).toArray()).toEqual([{ entries: JSON.stringify([["ahead", t + 2 * MINUTE + day]]) }]);
      expect(sql.exec<{ due_at: number }>(`SELECT due_at FROM due_work WHERE kind = 'retention'`).one().due_at).toBe(t + 2 * MINUTE + 2 * day + 1);
    });
  });
});
