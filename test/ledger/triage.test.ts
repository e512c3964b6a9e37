// Triage of a group: resolve, acknowledge, reopen; a failure after the resolve reopens the group as
// regressed with one regression alert (delivered to the real local receiver), a late arrival
// from before the resolve does not; every action is idempotent and kept in the group's history.

import { describe, expect, it } from "vitest";
import { FUTURE, failureInput, ledger, tuneLedger, uniqueTenant } from "../support/failures";
import { endpoints, requestsTo } from "../support/notify";
import { alarmAt } from "../support/recovery";

const GROUP = "aaaaaaaaaaaaaaaa";
const MINUTE = 60_000;

async function setup() {
  const tenant = uniqueTenant("triage");
  const stub = ledger(tenant);
  const hosts = endpoints(tenant);
  await tuneLedger(stub, { now: FUTURE });
  await tuneLedger(stub, {
    notify: {
      pagerDutyRoutingKey: "routing-key-1",
      pagerDutyUrl: `https://${hosts.pagerduty}/v2/enqueue`,
      resolveAfterMs: 24 * 3600_000,
      thresholds: [],
    },
  });
  return { tenant, stub, hosts };
}

const failure = (jobId: string, lastFailedAt: number) =>
  failureInput({
    jobId,
    occurrenceKey: `${jobId}:${lastFailedAt}`,
    fingerprint: GROUP,
    class: "SYSTEM_ERROR",
    queue: "charts",
    error: { name: "DatabaseError", message: "connection pool exhausted", status: 500 },
    lastFailedAt,
    firstFailedAt: lastFailedAt,
  });

/** Runs the alarm for a few seconds of ledger time from `at`: deliveries go out at PagerDuty's pace (2 a second). */
async function deliverFrom(stub: Awaited<ReturnType<typeof setup>>["stub"], at: number): Promise<void> {
  for (let s = 0; s < 4; s++) await alarmAt(stub, at + s * 1000);
}

/** What PagerDuty received: [event_action, dedup_key] in order. */
const pagerDuty = async (host: string) =>
  (await requestsTo(host)).map((r) => JSON.parse(r.body) as { event_action: string; dedup_key: string }).map((b) => [b.event_action, b.dedup_key]);

describe("group triage", () => {
  it("resolves a group (its alert too), reopens it as regressed on a later failure with one regression alert, and a person acknowledges it", async () => {
    const { tenant, stub, hosts } = await setup();
    await stub.record([failure("j1", FUTURE - MINUTE)]);
    const [fresh] = await stub.listGroups(10);
    expect(fresh).toMatchObject({ fingerprint: GROUP, state: "open", substate: "new", stateChangedAt: null, stateChangedBy: null });

    await tuneLedger(stub, { now: FUTURE + MINUTE });
    const resolved = await stub.triageGroup(GROUP, { action: "resolve", note: "fixed in deploy 42" }, "token:oncall");
    expect(resolved).toMatchObject({ state: "resolved", substate: null, stateChangedAt: new Date(FUTURE + MINUTE).toISOString(), stateChangedBy: "token:oncall" });
    // Idempotent: resolving a resolved group answers it unchanged and records nothing.
    await tuneLedger(stub, { now: FUTURE + 2 * MINUTE });
    expect(await stub.triageGroup(GROUP, { action: "resolve" }, "token:someone-else")).toEqual(resolved);

    // A late arrival, dated before the resolve: no regression, no alert.
    await stub.record([failure("j0", FUTURE - 2 * MINUTE)]);
    expect((await stub.listGroups(10))[0]).toMatchObject({ state: "resolved", count: 2 });

    // Failures dated after the resolve: regressed, once, however many follow.
    await tuneLedger(stub, { now: FUTURE + 3 * MINUTE });
    await stub.record([failure("j3", FUTURE + 3 * MINUTE), failure("j2", FUTURE + 2 * MINUTE + 1)]);
    await stub.record([failure("j4", FUTURE + 3 * MINUTE + 1)]);
    expect((await stub.listGroups(10))[0]).toMatchObject({ state: "open", substate: "regressed", stateChangedBy: "regression" });
    await deliverFrom(stub, FUTURE + 3 * MINUTE);
    const regression = `${tenant}:regression:${GROUP}:${FUTURE + MINUTE}`;
    expect(await pagerDuty(hosts.pagerduty)).toEqual([
      ["trigger", `${tenant}:group:${GROUP}`],
      ["resolve", `${tenant}:group:${GROUP}`],
      ["trigger", regression],
    ]);
    const alert = JSON.parse((await requestsTo(hosts.pagerduty))[2]!.body) as { payload: { custom_details: Record<string, unknown> } };
    expect(alert.payload.custom_details).toMatchObject({ group: GROUP, jobId: "j2", resolvedBy: "token:oncall" });

    // Regressed stays until a person acts: acknowledge makes it ongoing (again: no change).
    await tuneLedger(stub, { now: FUTURE + 4 * MINUTE });
    expect(await stub.triageGroup(GROUP, { action: "acknowledge" }, "token:oncall")).toMatchObject({ state: "open", substate: "ongoing" });
    expect(await stub.triageGroup(GROUP, { action: "acknowledge" }, "token:oncall")).toMatchObject({ stateChangedAt: new Date(FUTURE + 4 * MINUTE).toISOString() });

    expect((await stub.groupHistory(GROUP, 10)).map(({ action, actor, detail }) => ({ action, actor, detail }))).toEqual([
      { action: "acknowledge", actor: "token:oncall", detail: null },
      { action: "regressed", actor: "regression", detail: { jobId: "j2", lastFailedAt: FUTURE + 2 * MINUTE + 1, resolvedAt: FUTURE + MINUTE } },
      { action: "resolve", actor: "token:oncall", detail: { note: "fixed in deploy 42" } },
    ]);
    expect((await stub.groupHistory(GROUP, 10, 2)).map((e) => e.action)).toEqual(["resolve"]);
  });

  it("resolving again after a regression resolves the regression's alert; reopen puts a resolved group back to open", async () => {
    const { tenant, stub, hosts } = await setup();
    await stub.record([failure("j1", FUTURE - MINUTE)]);
    await stub.triageGroup(GROUP, { action: "resolve" }, "a");
    await tuneLedger(stub, { now: FUTURE + MINUTE });
    await stub.record([failure("j2", FUTURE + MINUTE)]);
    await tuneLedger(stub, { now: FUTURE + 2 * MINUTE });
    await stub.triageGroup(GROUP, { action: "resolve" }, "b");
    await deliverFrom(stub, FUTURE + 2 * MINUTE);
    const regression = `${tenant}:regression:${GROUP}:${FUTURE}`;
    expect((await pagerDuty(hosts.pagerduty)).filter(([, key]) => key === regression)).toEqual([
      ["trigger", regression],
      ["resolve", regression],
    ]);
    // Acknowledge does nothing to a resolved group; reopen does.
    expect(await stub.triageGroup(GROUP, { action: "acknowledge" }, "c")).toMatchObject({ state: "resolved", stateChangedBy: "b" });
    expect(await stub.triageGroup(GROUP, { action: "reopen" }, "c")).toMatchObject({ state: "open", substate: "ongoing", stateChangedBy: "c" });
    expect(await stub.triageGroup(GROUP, { action: "reopen" }, "d")).toMatchObject({ stateChangedBy: "c" });
    // The failures themselves are untouched by triage.
    expect((await stub.getFailure("j2"))?.status).toBe("open");
  });

  it("refuses an unknown group", async () => {
    const { stub } = await setup();
    expect(await stub.triageGroup("ffffffffffffffff", { action: "resolve" }, "a")).toEqual({ refused: "not_found", message: "no group ffffffffffffffff in this tenant" });
  });
});
