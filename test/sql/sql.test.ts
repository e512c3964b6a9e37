import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { MAX_BOUND_PARAMETERS, fitting, prepare, run, sql } from "../../src/sql";
import { ledger, uniqueTenant } from "../support/failures";

describe("sql tagged templates", () => {
  it("binds every value, splices fragments with their own values, and reads back what it wrote", async () => {
    await runInDurableObject(ledger(uniqueTenant()), (_instance, state) => {
      const storage = state.storage.sql;
      run(storage, sql`CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, flag INTEGER, note TEXT)`);
      const hostile = "x'); DROP TABLE t; --";
      const rows = [
        ["a", 1, true, hostile],
        ["b", 2, false, undefined],
      ] as const;
      run(storage, sql`INSERT INTO t (k, n, flag, note) VALUES ${sql.join(rows.map((r) => sql.list(r)))}`);
      const where = sql.join([sql`n >= ${1}`, sql`k IN ${sql.list(["a", "b"])}`], " AND ");
      const read = run<{ k: string; n: number; flag: number; note: string | null }>(storage, sql`SELECT * FROM t WHERE ${where} ORDER BY k`).toArray();
      expect(read).toEqual([
        { k: "a", n: 1, flag: 1, note: hostile },
        { k: "b", n: 2, flag: 0, note: null },
      ]);
    });
  });

  it("refuses a statement over the bound-parameter limit before the platform does", async () => {
    const tooMany = Array.from({ length: MAX_BOUND_PARAMETERS + 1 }, (_, i) => i);
    expect(() => prepare(env.DB, sql`SELECT 1 WHERE 1 IN ${sql.list(tooMany)}`)).toThrow(/101 bound parameters/);
    const fits = await prepare(env.DB, sql`SELECT COUNT(*) AS n WHERE 1 IN ${sql.list(tooMany.slice(0, MAX_BOUND_PARAMETERS))}`).first<{ n: number }>();
    expect(fits?.n).toBe(1);
  });

  it("cuts a list into runs that fit one statement", () => {
    const ids = Array.from({ length: 250 }, (_, i) => `j${i}`);
    const runs = fitting(ids, 3, 1);
    expect(runs.map((r) => r.length)).toEqual([33, 33, 33, 33, 33, 33, 33, 19]);
    expect(runs.flat()).toEqual(ids);
    expect(Math.max(...runs.map((r) => r.length * 3 + 1))).toBeLessThanOrEqual(MAX_BOUND_PARAMETERS);
  });
});
