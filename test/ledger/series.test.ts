// Failures over time: minute buckets written as the outbox flushes, complete hours and days
// rolled up from them, late failures counted in their hour or day.

import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { FailureLedger } from "../../src/failure-ledger";
import { DAY_MS, HOUR_MS, MINUTE_MS } from "../../src/ledger/aggregates/series";
import { apiFetch } from "../support/api";
import { FUTURE, failureInput, ledger, tuneLedger, uniqueTenant } from "../support/failures";
import { alarmAt } from "../support/recovery";

/** 10:00 UTC on a day far ahead: alarms never fire on their own. */
const T0 = Math.floor(FUTURE / DAY_MS) * DAY_MS + 10 * HOUR_MS;
const A = "aaaaaaaaaaaaaaaa";
const B = "bbbbbbbbbbbbbbbb";

type Stub = ReturnType<typeof ledger>;

/** Records `groups` (one failure each) with the ledger's clock at `at`, then flushes at once. */
async function recordAndFlush(stub: Stub, at: number, groups: string[]) {
  await tuneLedger(stub, { now: at, flushDelayMs: 0 });
  await stub.record(groups.map((fingerprint) => failureInput({ fingerprint, lastFailedAt: at })));
  await flushAt(stub, at);
}

/** Runs the alarm with the clock at `at`: everything due by then, the flush included. */
async function flushAt(stub: Stub, at: number) {
  expect(await alarmAt(stub, at)).toBe(true);
  expect((await stub.stats()).outbox.pendingRows).toBe(0);
}

async function seriesAt(stub: Stub, at: number, group?: string) {
  await tuneLedger(stub, { now: at });
  return (await stub.series(group))!;
}

const sum = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

describe("failure series", () => {
  it("counts per minute, rolls complete hours and days up, and serves the windows", async () => {
    const stub = ledger(uniqueTenant("series"));
    await recordAndFlush(stub, T0 + 5 * MINUTE_MS, [A, A, B]);
    await recordAndFlush(stub, T0 + 6 * MINUTE_MS + 30_000, [A]);

    const early = await seriesAt(stub, T0 + 10 * MINUTE_MS);
    expect(early.minutes.counts).toHaveLength(60);
    expect(early.minutes.counts.slice(-6)).toEqual([3, 1, 0, 0, 0, 0]);
    expect(early.minutes.start).toBe(new Date(T0 + 10 * MINUTE_MS - 59 * MINUTE_MS).toISOString());
    expect(early.hours.counts.at(-1)).toBe(4);
    expect(early.days.counts.at(-1)).toBe(4);
    expect((await seriesAt(stub, T0 + 10 * MINUTE_MS, A)).hours.counts.at(-1)).toBe(3);
    expect((await seriesAt(stub, T0 + 10 * MINUTE_MS, B)).hours.counts.at(-1)).toBe(1);

    // The next hour: hour T0 is rolled up by this flush; its minutes have left the 60-minute window.
    await recordAndFlush(stub, T0 + 70 * MINUTE_MS, [B, B]);
    const next = await seriesAt(stub, T0 + 71 * MINUTE_MS);
    expect(sum(next.minutes.counts)).toBe(2);
    expect(next.hours.counts.slice(-2)).toEqual([4, 2]);
    expect(next.days.counts.at(-1)).toBe(6);
    expect((await seriesAt(stub, T0 + 71 * MINUTE_MS, B)).hours.counts.slice(-2)).toEqual([1, 2]);

    // The next day: yesterday is rolled up from its hours.
    await recordAndFlush(stub, T0 + DAY_MS + HOUR_MS, [A]);
    const tomorrow = await seriesAt(stub, T0 + DAY_MS + HOUR_MS);
    expect(tomorrow.days.counts.slice(-2)).toEqual([6, 1]);
    expect(sum(tomorrow.hours.counts)).toBe(1);
    expect((await seriesAt(stub, T0 + DAY_MS + HOUR_MS, A)).days.counts.slice(-2)).toEqual([3, 1]);

    // Two weeks on, the first day has left the 14-day window.
    expect(sum((await seriesAt(stub, T0 + 14 * DAY_MS)).days.counts)).toBe(1);
    expect(sum((await seriesAt(stub, T0 + 15 * DAY_MS)).days.counts)).toBe(0);
  });

  it("counts a failure whose flush came hours late in its own hour, and a day late in its day", async () => {
    const stub = ledger(uniqueTenant("late"));
    await tuneLedger(stub, { now: T0 + 5 * MINUTE_MS, flushDelayMs: 3 * HOUR_MS });
    await stub.record([failureInput({ fingerprint: A })]);
    await flushAt(stub, T0 + 3 * HOUR_MS + 5 * MINUTE_MS);
    const s = await seriesAt(stub, T0 + 3 * HOUR_MS + 10 * MINUTE_MS);
    expect(sum(s.minutes.counts)).toBe(0);
    expect(s.hours.counts.slice(-4)).toEqual([1, 0, 0, 0]);

    await tuneLedger(stub, { now: T0 + HOUR_MS, flushDelayMs: 2 * DAY_MS });
    await stub.record([failureInput({ fingerprint: A })]);
    await flushAt(stub, T0 + 2 * DAY_MS + HOUR_MS);
    const later = await seriesAt(stub, T0 + 2 * DAY_MS + 2 * HOUR_MS);
    expect(later.days.counts.slice(-3)).toEqual([2, 0, 0]);
  });

  it("keeps each scope's rows bounded: buckets are overwritten in place, and the counts stay right", async () => {
    const stub = ledger(uniqueTenant("ring"));
    // 130 flushes 3 h 1 min apart: 16 days, more buckets than every ring has slots.
    const times = Array.from({ length: 130 }, (_, i) => T0 + i * (3 * HOUR_MS + MINUTE_MS));
    for (const at of times) await recordAndFlush(stub, at, [A]);
    const rows = await runInDurableObject(stub, (_i: FailureLedger, state) =>
      Object.fromEntries(
        state.storage.sql
          .exec<{ unit: string; n: number }>(`SELECT unit, COUNT(*) AS n FROM series WHERE scope = ? GROUP BY unit`, A)
          .toArray()
          .map((r) => [r.unit, r.n]),
      ),
    );
    expect(rows.m).toBeLessThanOrEqual(120);
    expect(rows.h).toBeLessThanOrEqual(72);
    expect(rows.d).toBeLessThanOrEqual(16);
    const now = times.at(-1)!;
    const s = await seriesAt(stub, now, A);
    const since = (ms: number, unit: number, length: number) => times.filter((t) => Math.floor(t / unit) > Math.floor(ms / unit) - length).length;
    expect(sum(s.days.counts)).toBe(since(now, DAY_MS, 14));
    expect(sum(s.hours.counts)).toBe(since(now, HOUR_MS, 24));
    expect(sum(s.minutes.counts)).toBe(1);
  }, 120_000);

  it("gives each group a 24-hour sparkline in the groups list", async () => {
    const stub = ledger(uniqueTenant("spark"));
    await recordAndFlush(stub, T0 - 2 * HOUR_MS, [A, A]);
    await recordAndFlush(stub, T0, [A, B]);
    await tuneLedger(stub, { now: T0 + MINUTE_MS });
    const groups = await stub.listGroups(10);
    const line = (fp: string) => groups.find((g) => g.fingerprint === fp)!.sparkline;
    expect(line(A)).toHaveLength(24);
    expect(line(A).slice(-3)).toEqual([2, 0, 1]);
    expect(line(B).slice(-3)).toEqual([0, 0, 1]);
    expect(sum(line(B))).toBe(1);
  });

  it("is served by GET /api/queue/dlq/series, for the tenant or one group (404 for a group it never saw)", async () => {
    const tenant = uniqueTenant("api-series");
    const stub = ledger(tenant);
    await recordAndFlush(stub, T0, [A, A, B]);
    const all = await apiFetch(`/api/queue/dlq/series?tenant=${tenant}`);
    expect(all.status).toBe(200);
    const body = await all.json<any>();
    expect(body).toMatchObject({ tenant, group: null, minutes: { stepSeconds: 60 }, hours: { stepSeconds: 3600 }, days: { stepSeconds: 86400 } });
    expect(sum(body.hours.counts)).toBe(3);
    const a = await (await apiFetch(`/api/queue/dlq/series?tenant=${tenant}&group=${A}`)).json<any>();
    expect([a.group, sum(a.days.counts)]).toEqual([A, 2]);
    const missing = await apiFetch(`/api/queue/dlq/series?tenant=${tenant}&group=cccccccccccccccc`);
    expect(missing.status).toBe(404);
    expect((await apiFetch(`/api/queue/dlq/series?tenant=${tenant}&group=nope`)).status).toBe(400);
    const groups = await (await apiFetch(`/api/queue/dlq/groups?tenant=${tenant}`)).json<any>();
    expect(groups.items.map((g: any) => sum(g.sparkline)).sort()).toEqual([1, 2]);
  });
});
