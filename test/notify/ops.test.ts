import { afterEach, describe, expect, it } from "vitest";
import { armFault, disarmFaults } from "../../src/faults";
import { FUTURE, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { ORIGIN, alarmAt, dueRetries, recoverable } from "../support/recovery";
import { endpoints, requestsTo, script } from "../support/notify";

afterEach(() => disarmFaults());

async function setup(notify = {}) {
  const tenant = uniqueTenant("ops");
  const stub = ledger(tenant);
  const hosts = endpoints(tenant);
  await tuneLedger(stub, { now: FUTURE });
  await tuneLedger(stub, { notify: {
    slackWebhookUrl: `https://${hosts.slack}/services/T0/B0/x`,
    pagerDutyRoutingKey: "routing-key-1",
    pagerDutyUrl: `https://${hosts.pagerduty}/v2/enqueue`,
    resolveAfterMs: 600_000,
    thresholds: [],
    ...notify,
  } });
  return { tenant, stub, hosts };
}

const systemError = (jobId: string, fingerprint: string, overrides = {}) =>
  failureInput({
    jobId,
    fingerprint,
    class: "SYSTEM_ERROR",
    queue: "charts",
    error: { name: "DatabaseError", message: "connection pool exhausted", status: 500 },
    lastFailedAt: FUTURE,
    ...overrides,
  });

const bodies = async (host: string) => (await requestsTo(host)).map((r) => JSON.parse(r.body));

describe("ops alerts", () => {
  it("alerts the first failure of a new group at once, in Slack's and PagerDuty's formats, and only counts repeats", async () => {
    const { tenant, stub, hosts } = await setup();
    await stub.record([systemError("j1", "aaaaaaaaaaaaaaaa")]);
    await stub.record([systemError("j2", "aaaaaaaaaaaaaaaa"), systemError("j3", "aaaaaaaaaaaaaaaa")]);
    await stub.record([failureInput({ jobId: "u1", class: "USER_ERROR", fingerprint: "cccccccccccccccc", lastFailedAt: FUTURE })]);
    await alarmAt(stub, FUTURE);

    const slack = await bodies(hosts.slack);
    expect(slack).toHaveLength(1);
    expect(slack[0].text).toBe(
      `:red_circle: [${tenant}] SYSTEM_ERROR in charts: DatabaseError: connection pool exhausted\n` +
        `class: SYSTEM_ERROR · queue: charts · group: aaaaaaaaaaaaaaaa · jobId: j1 · reason: server error status`,
    );
    expect(await bodies(hosts.pagerduty)).toEqual([
      {
        routing_key: "routing-key-1",
        event_action: "trigger",
        dedup_key: `${tenant}:group:aaaaaaaaaaaaaaaa`,
        payload: {
          summary: "SYSTEM_ERROR in charts: DatabaseError: connection pool exhausted",
          source: `dlq-ledger/${tenant}`,
          severity: "error",
          component: "charts",
          group: tenant,
          class: "SYSTEM_ERROR",
          custom_details: { class: "SYSTEM_ERROR", queue: "charts", group: "aaaaaaaaaaaaaaaa", jobId: "j1", reason: "server error status" },
        },
      },
    ]);

    // An UNKNOWN failure of another group alerts too, as a warning.
    await stub.record([systemError("j4", "bbbbbbbbbbbbbbbb", { class: "UNKNOWN", error: null, reason: "no error context" })]);
    await alarmAt(stub, FUTURE + 1000);
    const pages = await bodies(hosts.pagerduty);
    expect(pages).toHaveLength(2);
    expect(pages[1]).toMatchObject({ dedup_key: `${tenant}:group:bbbbbbbbbbbbbbbb`, payload: { severity: "warning" } });
    expect((await stub.stats()).notifications).toMatchObject({ alerts: 2, deliveries: { sent: 4, pending: 0 } });
  });

  it("resolves the incident once the group has been quiet long enough, and pages again if it comes back", async () => {
    const { tenant, stub, hosts } = await setup();
    await stub.record([systemError("j1", "aaaaaaaaaaaaaaaa")]);
    await alarmAt(stub, FUTURE);
    // A repeat five minutes later pushes the resolution back.
    await tuneLedger(stub, { now: FUTURE + 300_000 });
    await stub.record([systemError("j2", "aaaaaaaaaaaaaaaa", { lastFailedAt: FUTURE + 300_000 })]);

    await alarmAt(stub, FUTURE + 600_000);
    expect((await bodies(hosts.pagerduty)).map((p) => p.event_action)).toEqual(["trigger"]);
    await alarmAt(stub, FUTURE + 900_000);
    await alarmAt(stub, FUTURE + 901_000);
    expect(await bodies(hosts.pagerduty)).toEqual([
      expect.objectContaining({ event_action: "trigger" }),
      { routing_key: "routing-key-1", event_action: "resolve", dedup_key: `${tenant}:group:aaaaaaaaaaaaaaaa` },
    ]);

    await tuneLedger(stub, { now: FUTURE + 1_000_000 });
    await stub.record([systemError("j3", "aaaaaaaaaaaaaaaa", { lastFailedAt: FUTURE + 1_000_000 })]);
    await alarmAt(stub, FUTURE + 1_000_000);
    expect((await bodies(hosts.pagerduty)).map((p) => p.event_action)).toEqual(["trigger", "resolve", "trigger"]);
  });

  it("alerts once when a tenant's failure rate crosses a tier within a minute", async () => {
    const { tenant, stub, hosts } = await setup({ thresholds: [{ perMinute: 3 }, { perMinute: 6 }] });
    const recoverableJob = (j: string) => failureInput({ jobId: j, class: "RECOVERABLE", fingerprint: "dddddddddddddddd", lastFailedAt: FUTURE });
    await stub.record(["a", "b"].map(recoverableJob));
    await stub.record(["c", "d"].map(recoverableJob));
    await stub.record(["e"].map(recoverableJob));
    await alarmAt(stub, FUTURE);
    expect((await bodies(hosts.pagerduty)).map((p) => p.dedup_key)).toEqual([`${tenant}:rate:3`]);
    await stub.record(["f", "g"].map(recoverableJob));
    await alarmAt(stub, FUTURE + 1000);
    const pages = await bodies(hosts.pagerduty);
    expect(pages.map((p) => [p.dedup_key, p.payload.severity])).toEqual([
      [`${tenant}:rate:3`, "warning"],
      [`${tenant}:rate:6`, "critical"],
    ]);
  });

  it("alerts when recovery gives up on a job", async () => {
    const { tenant, stub, hosts } = await setup();
    await tuneLedger(stub, { recovery: { perQueue: { [ORIGIN]: { baseSeconds: 1, capSeconds: 1, maxAttempts: 1 } } } });
    await stub.record([recoverable(tenant, "r1", { fingerprint: "eeeeeeeeeeeeeeee" })]);
    await alarmAt(stub, (await dueRetries(stub)).r1!);
    await stub.record([recoverable(tenant, "r1", { occurrenceKey: "again", fingerprint: "eeeeeeeeeeeeeeee", lastFailedAt: FUTURE + 5000 })]);
    expect((await stub.getFailure("r1"))?.status).toBe("exhausted");
    await alarmAt(stub, FUTURE + 6000);
    expect((await bodies(hosts.pagerduty)).map((p) => p.dedup_key)).toEqual([`${tenant}:exhausted:eeeeeeeeeeeeeeee`]);
  });

  it("alerts when the outbox is stuck, and resolves when it flushes again", async () => {
    const { tenant, stub, hosts } = await setup({ outboxStuckAfterMs: 10_000 });
    await stub.record([failureInput({ jobId: "j1", class: "RECOVERABLE", lastFailedAt: FUTURE })]);
    armFault("d1.batch", { key: tenant, times: 3 });
    await runFlush(stub); // fails, outbox 1 h old by the flush's clock: stuck
    await alarmAt(stub, FUTURE + 3600_000 + 3000);
    expect((await bodies(hosts.pagerduty)).map((p) => [p.dedup_key, p.event_action, p.payload?.severity])).toEqual([
      [`${tenant}:outbox`, "trigger", "critical"],
    ]);
    disarmFaults();
    await runFlush(stub);
    await runFlush(stub);
    expect((await bodies(hosts.pagerduty)).map((p) => p.event_action)).toEqual(["trigger", "resolve"]);
  });

  it("sends each destination at its own pace and honours Slack's Retry-After", async () => {
    const { stub, hosts } = await setup({ pagerDutyRoutingKey: null });
    await script(hosts.slack, [{ status: 429, retryAfter: 20 }]);
    await stub.record(["1111111111111111", "2222222222222222", "3333333333333333"].map((fp, i) => systemError(`j${i}`, fp)));
    await alarmAt(stub, FUTURE);
    expect((await requestsTo(hosts.slack)).map((r) => r.answered)).toEqual([429]);
    await alarmAt(stub, FUTURE + 19_000);
    expect(await requestsTo(hosts.slack)).toHaveLength(1);
    await alarmAt(stub, FUTURE + 20_000);
    expect((await requestsTo(hosts.slack)).map((r) => r.answered)).toEqual([429, 200]); // one a second
    await alarmAt(stub, FUTURE + 21_000);
    await alarmAt(stub, FUTURE + 22_000);
    expect((await requestsTo(hosts.slack)).map((r) => r.answered)).toEqual([429, 200, 200, 200]);
    expect(await bodies(hosts.pagerduty)).toEqual([]);
  });
});
