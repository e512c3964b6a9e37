// The order lists behind filtered pages: pruned behind retention, so they do not outgrow the
// failures they point at, without losing an entry a held failure needs.

import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { FailureLedger } from "../../src/failure-ledger";
import { listFailures } from "../../src/ledger/queries";
import { failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";

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
