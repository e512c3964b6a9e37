// Ledger schema v8: the outbox id sequence moved from the counters to the ledger's state. A ledger
// written by v7 code keeps its sequence: no outbox id is handed out twice.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { failureInput, ledger, uniqueTenant } from "../support/failures";

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
      sql.exec(`INSERT INTO counters (key, value) VALUES ('outbox_next', ?)`, Number(next));
      sql.exec(`UPDATE ledger_meta SET value = 7 WHERE key = 'schema_version'`);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(sql.exec(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).toArray()).toEqual([{ value: next }]);
      expect(sql.exec(`SELECT key FROM counters WHERE key = 'outbox_next'`).toArray()).toEqual([]);
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
