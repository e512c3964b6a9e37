// The order lists behind filtered pages: pruned behind retention, so they do not outgrow the
// failures they point at, without losing an entry a held failure needs. A group's newest entries
// ride in its groups row until they spill into a list row (ledger v12).

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { MAX_LIST_ENTRIES, TAIL_ENTRIES, listEntries } from "../../src/ledger/store/order-lists";
import { listFailures } from "../../src/ledger/store/pages";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { seeded } from "../../src/ledger/setup";
import { failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { ORIGIN, recoverable } from "../support/recovery";
import { scanned, walk } from "../support/pages";
import { asV14 } from "../support/schema";

const HOUR = 3600_000;
const T = Date.now() - 24 * HOUR;

describe("order lists", () => {
  it("lose the rows of evicted failures once retention moves past them, and keep serving the rest", async () => {
    const tenant = uniqueTenant("lists");
    const stub = ledger(tenant);
    const batch = (at: number, cls: "USER_ERROR" | "SYSTEM_ERROR", fingerprint: string, prefix: string) =>
      Array.from({ length: 100 }, (_, i) => failureInput({ jobId: `${prefix}${i}`, lastFailedAt: at + i, class: cls, fingerprint }));

    await tuneLedger(stub, { now: T, flushDelayMs: 0 });
    await stub.record(batch(T, "USER_ERROR", "1111111111111111", "old-"));
    await runFlush(stub);
    // Two hours later, held to 100 rows: recording 100 more evicts the old ones at once.
    await tuneLedger(stub, { now: T + 2 * HOUR, retention: { maxRows: 100 } });
    await stub.record(batch(T + 2 * HOUR, "SYSTEM_ERROR", "2222222222222222", "new-"));

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM failures WHERE job_id LIKE 'old-%'`).one().n).toBe(0);
      const lists = sql.exec<{ list: string }>(`SELECT list FROM order_lists ORDER BY list`).toArray().map((r) => r.list);
      expect(lists).toEqual(["c:SYSTEM_ERROR", "g:2222222222222222", "s:open"]);
      expect(listFailures(sql, tenant, { class: "USER_ERROR", limit: 50 })).toEqual({ items: [], next: null });
      const page = listFailures(sql, tenant, { group: "2222222222222222", limit: 50 });
      expect(page.items.map((i) => i.jobId)).toEqual(Array.from({ length: 50 }, (_, i) => `new-${99 - i}`));
      expect(page.next).not.toBeNull();
    });
  });
});

describe("a long list", () => {
  it("is passed over for the time order when mostly stale, as a status jobs pass through", async () => {
    const tenant = uniqueTenant("long");
    const stub = ledger(tenant);
    const t = Date.now() - 3600_000;
    await stub.record(Array.from({ length: 90 }, (_, i) => recoverable(tenant, `r${i}`, { lastFailedAt: t + i * 1000 })));
    await stub.record(Array.from({ length: 90 }, (_, i) => failureInput({ jobId: `s${i}`, lastFailedAt: t + i * 1000 + 500 })));
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const retrying = scanned(sql, `status = 'retrying'`);
      expect(retrying).toHaveLength(90);
      expect(listEntries(sql, "s:retrying", undefined, MAX_LIST_ENTRIES)).toHaveLength(90);
      // What a year of retries leaves behind: entries of jobs that were retrying once, long gone.
      const stale = JSON.stringify(Array.from({ length: 1000 }, (_, i) => [`gone-${i}`, t - 1000 + i]));
      for (let seq = 1; seq <= Math.ceil(MAX_LIST_ENTRIES / 1000) + 1; seq++) {
        sql.exec(`INSERT INTO order_lists (list, seq, at, entries) VALUES ('s:retrying', ?, ?, ?)`, -seq, t, stale);
      }
      expect(listEntries(sql, "s:retrying", undefined, MAX_LIST_ENTRIES)).toBeNull();
      expect(walk(sql, tenant, { status: "retrying" }, 7)).toEqual(retrying);
      expect(walk(sql, tenant, { status: "retrying", queue: ORIGIN }, 11, 40)).toEqual(retrying);
    });
  });
});

describe("list tails", () => {
  const A = "aaaaaaaaaaaaaaaa";
  const B = "bbbbbbbbbbbbbbbb";
  const listRows = (sql: SqlStorage, list: string) => sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM order_lists WHERE list = ?`, list).one().n;
  const groupTail = (sql: SqlStorage, fingerprint: string) =>
    sql.exec<{ n: number }>(`SELECT json_array_length(list_tail) AS n FROM groups WHERE fingerprint = ?`, fingerprint).one().n;
  const headTail = (sql: SqlStorage, list: string) =>
    sql.exec<{ n: number | null }>(`SELECT json_array_length(list_tails, ?) AS n FROM ledger_head`, `$."${list}"`).one().n ?? 0;

  /** Batches of new failures and of repeats that move jobs between groups and classes, some dated late, and a few abandoned. */
  async function recordMixed(stub: ReturnType<typeof ledger>, t: number, batches: number, seed: number) {
    const random = seeded(seed);
    let jobs = 0;
    for (let b = 0; b < batches; b++) {
      await stub.record(
        Array.from({ length: 30 }, (_, i) => {
          const repeat = jobs > 0 && random() < 0.4;
          const job = repeat ? Math.floor(random() * jobs) : jobs++;
          const late = repeat && random() < 0.3;
          return failureInput({
            jobId: `j${job}`,
            fingerprint: random() < 0.7 ? A : B,
            class: random() < 0.6 ? "SYSTEM_ERROR" : "USER_ERROR",
            lastFailedAt: t + (late ? b * 100 - 1000 : b * 100 + i),
          });
        }),
      );
      await stub.abandon(`j${Math.floor(random() * jobs)}`, "test", "not needed");
    }
  }

  /** Every list-served filter answered as a scan would answer it. */
  function expectPagesAsScanned(sql: SqlStorage, tenant: string) {
    for (const [filter, where, value] of [
      [{ group: A }, "group_fp = ?", A],
      [{ group: B }, "group_fp = ?", B],
      [{ class: "USER_ERROR" }, "class = ?", "USER_ERROR"],
      [{ status: "abandoned" }, "status = ?", "abandoned"],
      [{ status: "open", group: A }, "status = 'open' AND group_fp = ?", A],
    ] as const) {
      const held = scanned(sql, where, value);
      expect(held.length, JSON.stringify(filter)).toBeGreaterThan(0);
      expect(walk(sql, tenant, filter, 7), JSON.stringify(filter)).toEqual(held);
    }
  }

  it("keep a change's entries in rows it writes anyway until they spill, and pages read both", async () => {
    const tenant = uniqueTenant("tail");
    const stub = ledger(tenant);
    const t = Date.now() - 3600_000;
    await recordMixed(stub, t, 2, 1);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      // Two batches of 30 and two status changes: no list row yet, every entry in a tail.
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM order_lists`).one().n).toBe(0);
      expect(groupTail(sql, A)).toBeGreaterThan(20);
      expect(headTail(sql, "c:USER_ERROR")).toBeGreaterThan(10);
      expect(headTail(sql, "s:abandoned")).toBe(2);
      expectPagesAsScanned(sql, tenant);
    });

    await recordMixed(stub, t + 10_000, 20, 2);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(listRows(sql, `g:${A}`)).toBeGreaterThan(1);
      expect(listRows(sql, "c:SYSTEM_ERROR")).toBeGreaterThan(1);
      expect(listRows(sql, "s:open")).toBeGreaterThan(1);
      expect(groupTail(sql, A)).toBeLessThan(TAIL_ENTRIES);
      expect(headTail(sql, "c:SYSTEM_ERROR")).toBeLessThan(TAIL_ENTRIES);
      expect(headTail(sql, "s:abandoned")).toBeGreaterThan(10);
      expectPagesAsScanned(sql, tenant);
    });
  });

  it("read a v14 ledger whose entries are all list rows (as its upgrade from v11 left them): pages unchanged, recording goes on", async () => {
    const tenant = uniqueTenant("v14-rows");
    const stub = ledger(tenant);
    const t = Date.now() - 3600_000;
    await recordMixed(stub, t, 5, 3);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const before = walk(sql, tenant, { group: A }, 7);
      // v9 and v11 filled the lists in bulk and v12 and v13 added empty tails: every entry in a
      // list row, rows of any length.
      sql.exec(`INSERT INTO order_lists (list, seq, at, entries)
        SELECT 'g:' || fingerprint, COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = 'g:' || fingerprint), 0) + 1,
          (SELECT MAX(j.value ->> 1) FROM json_each(list_tail) j), list_tail
        FROM groups WHERE list_tail <> '[]'`);
      sql.exec(`UPDATE groups SET list_tail = '[]'`);
      sql.exec(`INSERT INTO order_lists (list, seq, at, entries)
        SELECT t.key, COALESCE((SELECT MAX(seq) FROM order_lists WHERE list = t.key), 0) + 1,
          (SELECT MAX(j.value ->> 1) FROM json_each(t.value) j), t.value
        FROM json_each((SELECT list_tails FROM ledger_head)) t`);
      sql.exec(`UPDATE ledger_head SET list_tails = '{}'`);
      asV14(state.storage);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(groupTail(sql, A)).toBe(0);
      expect(headTail(sql, "c:USER_ERROR")).toBe(0);
      expect(walk(sql, tenant, { group: A }, 7)).toEqual(before);
      expectPagesAsScanned(sql, tenant);
    });
    await recordMixed(stub, t + 10_000, 5, 4);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(groupTail(sql, A)).toBeGreaterThan(0);
      expect(headTail(sql, "c:USER_ERROR")).toBeGreaterThan(0);
      expectPagesAsScanned(sql, tenant);
    });
  });
});
