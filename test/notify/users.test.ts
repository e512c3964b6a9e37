import { describe, expect, it } from "vitest";
import { signUserWebhook } from "../../src/sinks/webhooks";
import { FUTURE, d1Of, failureInput, ledger, runFlush, tuneLedger, uniqueTenant } from "../support/failures";
import { alarmAt } from "../support/recovery";
import { apiFetch } from "../support/api";
import { endpoints, requestsTo, script } from "../support/notify";

const SECRET = "webhook-signing-secret";

async function setup(limit = 5, windowMs = 3600_000) {
  const tenant = uniqueTenant("usr");
  const stub = ledger(tenant);
  const hosts = endpoints(tenant);
  await tuneLedger(stub, { now: FUTURE });
  await tuneLedger(stub, { notify: { userWebhookUrl: `https://${hosts.users}/hooks/failures`, userWebhookSecret: SECRET, userLimit: limit, userWindowMs: windowMs } });
  return { tenant, stub, host: hosts.users };
}

const userError = (jobId: string, overrides = {}) =>
  failureInput({
    jobId,
    userId: "u1",
    class: "USER_ERROR",
    reason: "client error status",
    error: { name: "Error", message: `chart ${jobId} not found`, status: 404 },
    lastFailedAt: FUTURE,
    ...overrides,
  });

async function inbox(tenant: string) {
  const { results } = await (await d1Of(tenant)).prepare(`SELECT id, kind, job_id, title, body FROM user_notifications WHERE tenant_id = ? ORDER BY created_at, id`)
    .bind(tenant)
    .all<{ id: string; kind: string; job_id: string | null; title: string; body: string }>();
  return results;
}

describe("user notices", () => {
  it("tells the user once per job, in the inbox and by a signed webhook, whatever the redeliveries", async () => {
    const { tenant, stub, host } = await setup();
    const first = userError("j1", { occurrenceKey: "k1" });
    await stub.record([first, first]);
    await stub.record([first, userError("j1", { occurrenceKey: "k2" })]);
    expect((await stub.stats()).notifications).toMatchObject({ sent: 1, suppressed: 0 });

    await alarmAt(stub, FUTURE);
    const [request, ...more] = await requestsTo(host);
    expect(more).toEqual([]);
    expect(request).toMatchObject({ method: "POST", path: "/hooks/failures", headers: { "content-type": "application/json", "x-dlq-delivery": "n:j1" } });
    const timestamp = Number(request!.headers["x-dlq-timestamp"]);
    expect(request!.headers["x-dlq-signature"]).toBe(await signUserWebhook(SECRET, timestamp, request!.body));
    expect(request!.headers["x-dlq-signature"]).not.toBe(await signUserWebhook("another-secret", timestamp, request!.body));
    expect(JSON.parse(request!.body)).toMatchObject({
      type: "job.failed",
      notice: { id: "n:j1", tenantId: tenant, userId: "u1", jobId: "j1", title: "Job j1 failed", body: expect.stringContaining("chart j1 not found") },
    });

    await runFlush(stub);
    expect(await inbox(tenant)).toEqual([{ id: "n:j1", kind: "failure", job_id: "j1", title: "Job j1 failed", body: expect.any(String) }]);
  });

  it("rate-limits each user and folds the rest into one digest at the end of the window", async () => {
    const { tenant, stub, host } = await setup(2, 60_000);
    await stub.record(["a", "b", "c", "d", "e"].map((j) => userError(j)));
    await stub.record([userError("other", { userId: "u2" })]);
    expect((await stub.stats()).notifications).toMatchObject({ sent: 3, suppressed: 3, digests: 0 });

    await alarmAt(stub, FUTURE + 60_000); // the notices go out, the window ends: the digest is due
    await alarmAt(stub, FUTURE + 61_000); // and goes out a second later
    const bodies = (await requestsTo(host)).map((r) => JSON.parse(r.body).notice);
    expect(bodies.map((n: { id: string }) => n.id).sort()).toEqual(["n:a", "n:b", "n:other", `d:u1:${FUTURE + 60_000}`].sort());
    const digest = bodies.find((n: { kind: string }) => n.kind === "digest");
    expect(digest).toMatchObject({ userId: "u1", jobId: null, title: "3 more jobs failed", body: "3 more jobs failed: c, d, e" });
    expect((await stub.stats()).notifications).toMatchObject({ sent: 3, suppressed: 3, digests: 1 });

    await runFlush(stub);
    expect((await inbox(tenant)).map((n) => n.kind)).toEqual(["failure", "failure", "failure", "digest"]);
  });

  it("retries a webhook answered 500 or 429 (after Retry-After), and sends nothing twice after success", async () => {
    const { stub, host } = await setup();
    await script(host, [{ status: 500 }, { status: 429, retryAfter: 30 }]);
    await stub.record([userError("j1")]);

    await alarmAt(stub, FUTURE);
    expect((await requestsTo(host)).map((r) => r.answered)).toEqual([500]);
    expect((await stub.stats()).notifications.deliveries).toMatchObject({ pending: 1, failures: 1, lastError: "user_webhook answered 500" });

    await alarmAt(stub, FUTURE + 2000);
    expect((await requestsTo(host)).map((r) => r.answered)).toEqual([500, 429]);
    await alarmAt(stub, FUTURE + 2000 + 29_000); // still paused by Retry-After
    expect(await requestsTo(host)).toHaveLength(2);

    await alarmAt(stub, FUTURE + 2000 + 30_000);
    await alarmAt(stub, FUTURE + 2000 + 40_000);
    expect((await requestsTo(host)).map((r) => r.answered)).toEqual([500, 429, 200]);
    expect((await stub.stats()).notifications.deliveries).toMatchObject({ pending: 0, sent: 1, failures: 2 });
  });

  it("keeps the inbox without a webhook, and skips failures with no user", async () => {
    const { tenant, stub, host } = await setup();
    await tuneLedger(stub, { notify: { userWebhookUrl: null } });
    await stub.record([userError("j1"), userError("anon", { userId: undefined })]);
    await runFlush(stub);
    expect((await inbox(tenant)).map((n) => n.id)).toEqual(["n:j1"]);
    expect(await requestsTo(host)).toEqual([]);
  });
});

describe("the inbox API", () => {
  it("lists a user's notices newest first, pages them, and marks them read", async () => {
    const { tenant, stub } = await setup(10);
    await tuneLedger(stub, { notify: { userWebhookUrl: null } });
    for (const j of ["a", "b", "c"]) {
      await tuneLedger(stub, { now: FUTURE + j.charCodeAt(0) });
      await stub.record([userError(j)]);
    }
    await runFlush(stub);
    const get = async (query: string) => (await apiFetch(`/api/notifications?tenant=${tenant}&${query}`)).json<any>();

    const first = await get("userId=u1&limit=2");
    expect(first.items.map((n: { id: string }) => n.id)).toEqual(["n:c", "n:b"]);
    expect(first.unread).toBe(3);
    const second = await get(`userId=u1&limit=2&cursor=${first.nextCursor}`);
    expect(second).toMatchObject({ items: [{ id: "n:a", kind: "failure", jobId: "a", readAt: null }], nextCursor: null });

    const marked = await apiFetch(`/api/notifications/read?tenant=${tenant}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "u1", ids: ["n:a", "n:b", "n:unknown"] }),
    });
    expect(await marked.json()).toEqual({ marked: 2 });
    expect((await get("userId=u1&unread=true")).items.map((n: { id: string }) => n.id)).toEqual(["n:c"]);
    expect((await get("userId=u2")).items).toEqual([]);
    expect((await apiFetch(`/api/notifications?tenant=${tenant}`)).status).toBe(400);
  });
});
