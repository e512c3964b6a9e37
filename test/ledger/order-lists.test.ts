// The order lists behind filtered pages: pruned behind retention, so they do not outgrow the
// failures they point at, without losing an entry a held failure needs. A group's newest entries
// ride in its groups row until they spill into a list row (ledger v12).

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { GROUP_TAIL_ENTRIES } from "../../src/ledger/order-lists";
import { listFailures } from "../../src/ledger/queries";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { seeded } from "../../src/ledger/setup";
import { failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { scanned, walk } from "../support/pages";
import { groupTailsAsBeforeV12 } from "../support/schema";

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

describe("a group's list tail", () => {
  const A = "aaaaaaaaaaaaaaaa";
  const B = "bbbbbbbbbbbbbbbb";
  const listRows = (sql: SqlStorage, fingerprint: string) =>
    sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM order_lists WHERE list = ?`, `g:${fingerprint}`).one().n;
  const tailLength = (sql: SqlStorage, fingerprint: string) =>
    sql.exec<{ n: number }>(`SELECT json_array_length(list_tail) AS n FROM groups WHERE fingerprint = ?`, fingerprint).one().n;

  /** Batches of new failures and of repeats that move jobs between the groups, some dated late. */
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
            lastFailedAt: t + (late ? b * 100 - 1000 : b * 100 + i),
          });
        }),
      );
    }
  }

  it("keeps a batch's entries in the group's row until they spill, and pages by group read both", async () => {
    const tenant = uniqueTenant("tail");
    const stub = ledger(tenant);
    const t = Date.now() - 3600_000;
    await recordMixed(stub, t, 2, 1);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      // Two batches of some 20 entries each: no list row yet, every entry in the tail.
      expect(listRows(sql, A)).toBe(0);
      expect(tailLength(sql, A)).toBeGreaterThan(20);
      expect(walk(sql, tenant, { group: A }, 7)).toEqual(scanned(sql, `group_fp = ?`, A));
    });

    await recordMixed(stub, t + 10_000, 20, 2);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(listRows(sql, A)).toBeGreaterThan(2);
      expect(tailLength(sql, A)).toBeLessThan(GROUP_TAIL_ENTRIES);
      for (const group of [A, B]) {
        const held = scanned(sql, `group_fp = ?`, group);
        expect(held.length).toBeGreaterThan(50);
        expect(walk(sql, tenant, { group }, 7)).toEqual(held);
        expect(walk(sql, tenant, { group, status: "open" }, 11)).toEqual(held);
      }
    });
  });

  it("upgrades a v11 ledger, whose group entries are all list rows: pages unchanged, recording goes on", async () => {
    const tenant = uniqueTenant("v11");
    const stub = ledger(tenant);
    const t = Date.now() - 3600_000;
    await recordMixed(stub, t, 5, 3);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const before = walk(sql, tenant, { group: A }, 7);
      groupTailsAsBeforeV12(sql);
      sql.exec(`UPDATE ledger_meta SET value = 11 WHERE key = 'schema_version'`);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(tailLength(sql, A)).toBe(0);
      expect(walk(sql, tenant, { group: A }, 7)).toEqual(before);
    });
    await recordMixed(stub, t + 10_000, 5, 4);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      expect(tailLength(sql, A)).toBeGreaterThan(0);
      for (const group of [A, B]) expect(walk(sql, tenant, { group }, 7)).toEqual(scanned(sql, `group_fp = ?`, group));
    });
  });
});
