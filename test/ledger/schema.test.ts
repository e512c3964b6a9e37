// The ledger's schema: a fresh ledger is created at the baseline (v15) in one step; a ledger
// written by v14 code (built here by the frozen v1..v14 steps, test/support/ledger-v14.ts)
// upgrades to exactly what a fresh ledger is, its data kept; anything older is refused with a
// message that says what to do. Whatever steps src/ledger/schema.ts appends after the baseline,
// these tests run them on both paths and compare the results.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { BASELINE_VERSION, LEDGER_STEPS, OLDEST_UPGRADABLE, SCHEMA_VERSION, migrate, schemaVersion } from "../../src/ledger/schema";
import { failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { asV14, clearLedger, columnsOf, emptyLedgerAsOldCode, rowsOf, schemaOf } from "../support/schema";

const freshSchema = () => runInDurableObject(ledger(uniqueTenant("fresh")), (_i: FailureLedger, state) => schemaOf(state.storage.sql));

describe("ledger schema baseline", () => {
  it("creates a fresh ledger at the newest version, no table created to be dropped", async () => {
    const fresh = await freshSchema();
    expect(Object.keys(fresh.tables)).toContain("failures");
    for (const gone of ["counters", "counter_totals", "window_buckets", "minute_counts"]) expect(fresh.tables).not.toHaveProperty(gone);
    await runInDurableObject(ledger(uniqueTenant("fresh")), (_i: FailureLedger, state) => {
      expect(schemaVersion(state.storage.sql)).toBe(SCHEMA_VERSION);
      expect(SCHEMA_VERSION).toBe(BASELINE_VERSION + LEDGER_STEPS.length);
    });
  });

  it("upgrades a v14 ledger holding failures to what a fresh ledger is, keeping its data", async () => {
    const tenant = uniqueTenant("v14");
    const stub = ledger(tenant);
    // The default flush delay (an hour): no real alarm fires between the reads below.
    await tuneLedger(stub, { now: Date.now() });
    await stub.record([
      failureInput({ jobId: "a", class: "USER_ERROR", userId: "u1" }),
      failureInput({ jobId: "b", queue: "other", fingerprint: "bbbbbbbbbbbbbbbb" }),
      failureInput({ jobId: "a", occurrenceKey: "m:again" }),
    ]);
    await runFlush(stub);
    await stub.record([failureInput({ jobId: "c", class: "RECOVERABLE" })]); // left in the outbox
    await stub.abandon("b", "test", "not needed");
    const before = await stub.stats();
    expect(before).toMatchObject({ total: 3, occurrences: 4, byQueue: { other: 1 } });

    const upgraded = await runInDurableObject(stub, (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      const before = rowsOf(sql);
      asV14(state.storage);
      expect(schemaVersion(sql)).toBe(14);
      // What v14 has room for (a table or column added since has no place there) is kept as it was.
      const v14 = columnsOf(sql);
      const rows = rowsOf(sql, v14);
      expect(rows).toEqual(
        Object.fromEntries(Object.entries(v14).map(([t, columns]) => [t, (before[t] ?? []).map((r) => Object.fromEntries(columns.map((c) => [c, (r as Record<string, unknown>)[c]])))])),
      );

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(sql.exec(`SELECT job_id, occurrences, status FROM failures WHERE job_id = 'a'`).one()).toEqual({ job_id: "a", occurrences: 2, status: "open" });
      const totals = JSON.parse(sql.exec<{ totals: string }>(`SELECT totals FROM ledger_head`).one().totals) as Record<string, number>;
      expect(totals).toMatchObject({ total: 3, occurrences: 4 });
      expect(rowsOf(sql, v14)).toEqual(rows);
      return schemaOf(sql);
    });
    expect(upgraded).toEqual(await freshSchema());

    expect(await stub.stats()).toEqual(before);
    await stub.record([failureInput({ jobId: "d", queue: "third" })]);
    await runFlush(stub);
    expect(await stub.stats()).toMatchObject({ total: 4, occurrences: 5, byQueue: { other: 1, third: 1 }, outbox: { pendingRows: 0 } });
  });

  it("upgrades an empty v14 ledger to a fresh ledger's schema and rows (the head row among them)", async () => {
    await runInDurableObject(ledger(uniqueTenant("empty")), (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      clearLedger(sql);
      expect(migrate(state.storage)).toBe(0);
      const fresh = { schema: schemaOf(sql), rows: rowsOf(sql) };
      expect(fresh.rows.ledger_head).toHaveLength(1);

      emptyLedgerAsOldCode(state.storage, 14);
      expect(migrate(state.storage)).toBe(14);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect({ schema: schemaOf(sql), rows: rowsOf(sql) }).toEqual(fresh);
    });
  });

  it("runs a step appended after the baseline on fresh, v14 and baseline ledgers alike", async () => {
    // What a later change would append to LEDGER_STEPS: a column (added last) and an index.
    const steps = [
      ...LEDGER_STEPS,
      [`ALTER TABLE groups ADD COLUMN note TEXT NOT NULL DEFAULT ''`, `CREATE INDEX groups_by_last_seen ON groups (last_seen)`],
    ];
    await runInDurableObject(ledger(uniqueTenant("step")), (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      clearLedger(sql);
      expect(migrate(state.storage, steps)).toBe(0);
      const fresh = schemaOf(sql);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION + 1);
      expect(fresh.others).toContainEqual({ type: "index", name: "groups_by_last_seen", tbl_name: "groups" });

      emptyLedgerAsOldCode(state.storage, 14);
      expect(migrate(state.storage, steps)).toBe(14);
      expect(schemaOf(sql)).toEqual(fresh);

      clearLedger(sql);
      migrate(state.storage);
      expect(migrate(state.storage, steps)).toBe(SCHEMA_VERSION);
      expect(schemaOf(sql)).toEqual(fresh);
    });
  });

  it("refuses a ledger older than v14, saying what to do, and leaves it as it was", async () => {
    await runInDurableObject(ledger(uniqueTenant("old")), (_i: FailureLedger, state) => {
      const sql = state.storage.sql;
      for (let version = 1; version < OLDEST_UPGRADABLE; version++) {
        emptyLedgerAsOldCode(state.storage, version);
        const before = schemaOf(sql);
        expect(() => new FailureLedger(state, env)).toThrow(
          `Ledger schema is at v${version}: written by code older than v14, which this code no longer upgrades. ` +
            "Open this ledger once with code from before the v15 schema baseline (commit 4cbbf91 or earlier; it brings any ledger to v14), then with this code; " +
            "or, for local state, start afresh with `npm start -- --reset`.",
        );
        expect(schemaVersion(sql)).toBe(version);
        expect(schemaOf(sql)).toEqual(before);
      }
    });
  });
});
