// Ledger schema v8: the outbox id sequence moved from the counters to the ledger's state. A ledger
// written by v7 code keeps its sequence: no outbox id is handed out twice. v9: the counters moved
// into one row; a ledger written by v8 code keeps every count.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { FUTURE, failureInput, ledger, uniqueTenant } from "../support/failures";
import { counterRowsAsBeforeV9 } from "../support/schema";

describe("ledger schema v8", () => {
  it("upgrades a v7 ledger, whose outbox sequence is a counter, without reusing an outbox id", async () => {
    const stub = ledger(uniqueTenant("v7"));
    await stub.record([failureInput({ jobId: "before-1" }), failureInput({ jobId: "before-2" })]);
    const before = await stub.stats();

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      // What v7 code left: the sequence among the counters, at version 7, the outbox not yet flushed.
      const next = sql.exec<{ value: string }>(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).one().value;
      sql.exec(`DELETE FROM ledger_state WHERE key = 'outbox_next'`);
      counterRowsAsBeforeV9(sql);
      sql.exec(`INSERT INTO counters (key, value) VALUES ('outbox_next', ?)`, Number(next));
      sql.exec(`UPDATE ledger_meta SET value = 7 WHERE key = 'schema_version'`);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(sql.exec(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).toArray()).toEqual([{ value: next }]);
      expect(sql.exec<{ totals: string }>(`SELECT totals FROM counter_totals`).one().totals).not.toContain("outbox_next");
    });

    await stub.record([failureInput({ jobId: "after" })]);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const ids = sql.exec<{ id: number }>(`SELECT id FROM outbox ORDER BY id`).toArray().map((r) => r.id);
      expect(new Set(ids).size).toBe(2);
      const seq = Object.fromEntries(
        sql.exec<{ job_id: string; outbox_seq: number }>(`SELECT job_id, outbox_seq FROM failures`).toArray().map((r) => [r.job_id, r.outbox_seq]),
      );
      expect(seq.after).toBeGreaterThan(Math.max(seq["before-1"]!, seq["before-2"]!));
    });
    expect((await stub.stats()).total).toBe(before.total + 1);
  });
});

describe("ledger schema v9", () => {
  it("upgrades a v8 ledger, one row per counter, to one row of counters with every count kept", async () => {
    const stub = ledger(uniqueTenant("v8"));
    await stub.tune({ now: FUTURE });
    await stub.record([
      failureInput({ jobId: "a", class: "USER_ERROR", userId: "u1" }),
      failureInput({ jobId: "b", queue: "other" }),
      failureInput({ jobId: "a", occurrenceKey: "m:again" }),
    ]);
    const before = await stub.stats();
    expect(before).toMatchObject({ total: 2, occurrences: 3, byQueue: { other: 1 } });

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      counterRowsAsBeforeV9(sql);
      sql.exec(`UPDATE ledger_meta SET value = 8 WHERE key = 'schema_version'`);
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM counters`).one().n).toBeGreaterThan(5);
      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(() => sql.exec(`SELECT * FROM counters`)).toThrow();
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM counter_totals`).one().n).toBe(1);
    });
    expect(await stub.stats()).toEqual(before);

    // A change writes the counters in one row, however many it moves.
    const written = await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const cursor = state.storage.sql.exec(
        `INSERT INTO counter_totals (id, totals) VALUES (1, '{}') ON CONFLICT (id) DO UPDATE SET totals = totals`,
      );
      cursor.toArray();
      return cursor.rowsWritten;
    });
    expect(written).toBe(1);
    await stub.record([failureInput({ jobId: "c", queue: "third", class: "RECOVERABLE" })]);
    expect(await stub.stats()).toMatchObject({ total: 3, occurrences: 4, byQueue: { other: 1, third: 1 } });
  });
});
