// Ledger schema v8: the outbox id sequence moved from the counters to the ledger's state. A ledger
// written by v7 code keeps its sequence: no outbox id is handed out twice. v9: order lists per
// group, class and status, filled from the failures held. v10: the counters moved into one row;
// a ledger written by v9 code keeps every count. v13: the counters, the 24 h window, the minute
// counts and the outbox sequence moved into the head row; a ledger written by v12 code keeps them.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { listFailures } from "../../src/ledger/store/pages";
import type { FailureFilter } from "../../src/ledger/store";
import { SCHEMA_VERSION, schemaVersion } from "../../src/ledger/schema";
import { FUTURE, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { scanned } from "../support/pages";
import { asWrittenBy } from "../support/schema";

describe("ledger schema v8", () => {
  it("upgrades a v7 ledger, whose outbox sequence is a counter, without reusing an outbox id", async () => {
    const stub = ledger(uniqueTenant("v7"));
    await stub.record([failureInput({ jobId: "before-1" }), failureInput({ jobId: "before-2" })]);
    const before = await stub.stats();

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      // What v7 code left: the sequence among the counters, at version 7, the outbox not yet flushed.
      asWrittenBy(sql, 9);
      const next = sql.exec<{ value: string }>(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).one().value;
      sql.exec(`DELETE FROM ledger_state WHERE key = 'outbox_next'`);
      sql.exec(`INSERT INTO counters (key, value) VALUES ('outbox_next', ?)`, Number(next));
      sql.exec(`DROP TABLE order_lists`); // added by v9
      sql.exec(`UPDATE ledger_meta SET value = 7 WHERE key = 'schema_version'`);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(sql.exec(`SELECT outbox_next FROM ledger_head`).toArray()).toEqual([{ outbox_next: Number(next) }]);
      expect(sql.exec<{ totals: string }>(`SELECT totals FROM ledger_head`).one().totals).not.toContain("outbox_next");
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

describe("ledger schema v9 and v10", () => {
  it("upgrades a v9 ledger, one row per counter, to one row of counters with every count kept", async () => {
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
      asWrittenBy(sql, 9);
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM counters`).one().n).toBeGreaterThan(5);
      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      expect(() => sql.exec(`SELECT * FROM counters`)).toThrow();
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ledger_head`).one().n).toBe(1);
    });
    expect(await stub.stats()).toEqual(before);

    await stub.record([failureInput({ jobId: "c", queue: "third", class: "RECOVERABLE" })]);
    expect(await stub.stats()).toMatchObject({ total: 3, occurrences: 4, byQueue: { other: 1, third: 1 } });
  });

  it("upgrades a v8 ledger: its failures are listed, filtered from the order lists and evicted oldest first", async () => {
    const tenant = uniqueTenant("v8");
    const stub = ledger(tenant);
    const T = Date.now() - 3600_000;
    await tuneLedger(stub, { now: T + 2_000_000, flushDelayMs: 0 });
    const rare = (i: number) => i % 400 === 7;
    for (let b = 0; b < 12; b++) {
      await stub.record(
        Array.from({ length: 100 }, (_, j) => {
          const i = b * 100 + j;
          return failureInput({
            jobId: `j${String(i).padStart(4, "0")}`,
            lastFailedAt: T + i * 1000,
            class: rare(i) ? "SYSTEM_ERROR" : "USER_ERROR",
            fingerprint: rare(i) ? "aaaaaaaaaaaaaaaa" : "bbbbbbbbbbbbbbbb",
          });
        }),
      );
    }
    await stub.abandon("j0407", "test", "not needed");

    // Every filter the lists serve, answered as a scan of the failures would answer it.
    const filters: FailureFilter[] = [{}, { class: "SYSTEM_ERROR" }, { group: "aaaaaaaaaaaaaaaa" }, { status: "abandoned" }, { class: "SYSTEM_ERROR", status: "open" }];
    const expectListed = (sql: SqlStorage, held: number) => {
      for (const filter of filters) {
        const newest = scanned(
          sql,
          `(?1 IS NULL OR class = ?1) AND (?2 IS NULL OR group_fp = ?2) AND (?3 IS NULL OR status = ?3)`,
          filter.class ?? null,
          filter.group ?? null,
          filter.status ?? null,
        ).slice(0, 50);
        expect(listFailures(sql, tenant, { ...filter, limit: 50 }).items.map((i) => i.jobId), JSON.stringify(filter)).toEqual(newest);
        expect(newest.length).toBeGreaterThan(0);
      }
      expect(sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM failures`).one().n).toBe(held);
    };

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      // What v8 code left: the same tables without the order lists, at version 8.
      asWrittenBy(sql, 9);
      sql.exec(`DROP TABLE order_lists`);
      sql.exec(`UPDATE ledger_meta SET value = 8 WHERE key = 'schema_version'`);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      const rows = sql.exec<{ list: string; n: number }>(`SELECT list, json_array_length(entries) AS n FROM order_lists ORDER BY list, seq`).toArray();
      // 1,197 common failures take two rows of their class's list (1,000 ids a row)
      expect(rows.filter((r) => r.list === "c:USER_ERROR").map((r) => r.n)).toEqual([1000, 197]);
      expect(rows.filter((r) => r.list === "c:SYSTEM_ERROR").map((r) => r.n)).toEqual([3]);
      expectListed(sql, 1200);
    });

    // Flushed, then held to 1,000 rows: the 200 oldest leave, j0007 (rare) among them.
    await tuneLedger(stub, { retention: { maxRows: 1000 } });
    await stub.record([failureInput({ jobId: "j1200", lastFailedAt: T + 1_200_000, class: "USER_ERROR", fingerprint: "bbbbbbbbbbbbbbbb" })]);
    await runFlush(stub);
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const oldest = sql.exec<{ job_id: string }>(`SELECT job_id FROM failures ORDER BY last_failed_at, job_id LIMIT 1`).one().job_id;
      expect(oldest).toBe("j0201");
      expectListed(sql, 1000);
      expect(listFailures(sql, tenant, { class: "SYSTEM_ERROR", limit: 50 }).items.map((i) => i.jobId)).toEqual(["j0807", "j0407"]);
    });
  });
});

describe("ledger schema v13", () => {
  it("upgrades a v12 ledger: counters, the 24 h window, this minute's count and the outbox sequence move into the head row", async () => {
    const stub = ledger(uniqueTenant("v12"));
    const now = Date.now();
    const minute = Math.floor(now / 60_000);
    await tuneLedger(stub, { now, notify: { thresholds: [{ perMinute: 1000 }] } });
    await stub.record([
      failureInput({ jobId: "a", lastFailedAt: now - 60_000 }),
      failureInput({ jobId: "b", class: "USER_ERROR", lastFailedAt: now - 30_000 }),
      failureInput({ jobId: "c", lastFailedAt: now - 2 * 86_400_000 }),
    ]);
    const before = await stub.stats();
    expect(before).toMatchObject({ total: 3, last24h: 2 });

    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      asWrittenBy(sql, 12);
      expect(sql.exec(`SELECT minute, count FROM minute_counts`).toArray()).toEqual([{ minute, count: 3 }]);
      const next = Number(sql.exec<{ value: string }>(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).one().value);

      new FailureLedger(state, env);
      expect(schemaVersion(sql)).toBe(SCHEMA_VERSION);
      for (const table of ["counter_totals", "window_buckets", "minute_counts"]) expect(() => sql.exec(`SELECT 1 FROM ${table}`)).toThrow();
      expect(sql.exec(`SELECT value FROM ledger_state WHERE key = 'outbox_next'`).toArray()).toEqual([]);
      expect(sql.exec(`SELECT outbox_next, minute_counts FROM ledger_head`).one()).toEqual({ outbox_next: next, minute_counts: JSON.stringify({ [minute]: 3 }) });
    });
    expect(await stub.stats()).toEqual(before);

    await stub.record([failureInput({ jobId: "d", lastFailedAt: now - 1000 })]);
    expect(await stub.stats()).toMatchObject({ total: 4, last24h: 3 });
    await runInDurableObject(stub, (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      const ids = sql.exec<{ id: number }>(`SELECT id FROM outbox ORDER BY id`).toArray().map((r) => r.id);
      expect(ids).toHaveLength(2);
      expect(ids[1]).toBeGreaterThan(ids[0]!);
      expect(sql.exec<{ minute_counts: string }>(`SELECT minute_counts FROM ledger_head`).one().minute_counts).toBe(JSON.stringify({ [minute]: 4 }));
    });
  });
});
