// Live updates end to end: a ticket from the API, the Upgrade through the worker, a WebSocket the
// tenant's ledger accepted with the hibernation API, and what it pushes as failures come and go.

import { abortAllDurableObjects, createExecutionContext, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { PUSH_INTERVAL_MS, MAX_CHANGED } from "../../src/ledger/live/feed";
import { LiveServerMessage } from "../../src/contract/schemas";
import worker from "../../src/index";
import { apiFetch, createToken } from "../support/api";
import { deliver, envelope, message } from "../support/dlq";
import { failureInput, ledger, uniqueTenant } from "../support/failures";
import { alarmAt, dueRetries, recoverable } from "../support/recovery";
import { connect, liveTicket, upgrade, type Snapshot, type Update } from "../support/live";

const isUpdate = (m: { type: string }): m is Update => m.type === "update";

/** Freezes the ledger's clock (pushes are paced by it); null gives it the real time back. */
async function freezeClock(tenant: string, at: number | null) {
  await ledger(tenant).tune({ now: at });
}

describe("GET /api/live", () => {
  it("pushes what the DLQ consumer recorded, then each status change, each operation step", async () => {
    const tenant = uniqueTenant("live");
    const client = await connect(tenant);
    const [snapshot] = client.received;
    expect(snapshot).toMatchObject({ type: "snapshot", tenant, stats: { tenant, total: 0 }, failures: [], groups: [], operations: [] });
    expect(() => LiveServerMessage.parse(snapshot)).not.toThrow();

    // Through the real path: the queue handler, one ledger RPC for the batch.
    const result = await deliver([message(envelope(tenant, "j-1")), message(envelope(tenant, "j-2"))]);
    expect(result.explicitAcks).toHaveLength(2);
    const first = await client.next((m): m is Update => isUpdate(m) && m.stats.total === 2);
    expect(() => LiveServerMessage.parse(first)).not.toThrow();
    expect(first.failures.map((f) => f.jobId).sort()).toEqual(["j-1", "j-2"]);
    expect(first.failures[0]).toMatchObject({ tenantId: tenant, status: "open", class: "RECOVERABLE" });
    expect(first.groups).toHaveLength(1);
    expect(first.groups[0]).toMatchObject({ count: 2, sampleJobId: expect.any(String) });
    // The same shapes the API serves.
    const listed = await (await apiFetch(`/api/queue/dlq/failures?tenant=${tenant}`)).json<{ items: unknown[] }>();
    expect(first.failures).toEqual(listed.items);

    // A status change by a person.
    const from = client.received.length;
    expect((await apiFetch(`/api/queue/dlq/failures/j-1/abandon?tenant=${tenant}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ reason: "test" }) })).status).toBe(200);
    const abandoned = await client.next((m): m is Update => isUpdate(m) && m.failures.some((f) => f.jobId === "j-1" && f.status === "abandoned"), from);
    expect(abandoned.seq).toBe(first.seq + 1);
    expect(abandoned.stats.byStatus.abandoned).toBe(1);

    // A bulk operation: its steps run in the ledger's alarm, each pushed with its progress.
    const started = await apiFetch(`/api/queue/dlq/operations?tenant=${tenant}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ action: "abandon", filter: { status: "open" }, reason: "bulk", rate: 1000 }),
    });
    const { id } = await started.json<{ id: string }>();
    const done = await client.next((m): m is Update => isUpdate(m) && m.operations.some((o) => o.id === id && o.status === "done"));
    expect(done.operations[0]).toMatchObject({ processed: 1, succeeded: 1 });
    expect(done.failures).toEqual([expect.objectContaining({ jobId: "j-2", status: "abandoned" })]);
    expect(done.stats.byStatus.abandoned).toBe(2);
    client.close();
  });

  it("pushes the automatic recovery: the retry sent, then the job recovered", async () => {
    const tenant = uniqueTenant("heal");
    const stub = ledger(tenant);
    const client = await connect(tenant);
    await stub.record([recoverable(tenant, "heal-1")]);
    await client.next((m): m is Update => isUpdate(m) && m.failures.some((f) => f.jobId === "heal-1" && f.status === "retrying"));

    const due = (await dueRetries(stub))["heal-1"]!;
    expect(await alarmAt(stub, due)).toBe(true);
    const sent = await client.next((m): m is Update => isUpdate(m) && m.stats.recovery.retriesSent === 1);
    expect(sent.failures).toEqual([expect.objectContaining({ jobId: "heal-1", recovery: expect.objectContaining({ attempts: 1 }) })]);

    await freezeClock(tenant, due + PUSH_INTERVAL_MS);
    expect(await stub.reportSucceeded(["heal-1"])).toEqual(["heal-1"]);
    const healed = await client.next((m): m is Update => isUpdate(m) && m.failures.some((f) => f.jobId === "heal-1" && f.status === "recovered"));
    expect(healed.seq).toBeGreaterThan(sent.seq);
    await freezeClock(tenant, null);
    client.close();
  });

  it("coalesces a storm: one update while the ledger's clock stands still, one more once it passes the interval", async () => {
    const tenant = uniqueTenant("storm");
    const client = await connect(tenant);
    const at = Date.now();
    await freezeClock(tenant, at);
    const stub = ledger(tenant);
    const storm = 300;
    for (let i = 0; i < storm; i += 30) {
      await Promise.all(Array.from({ length: 30 }, (_, k) => stub.record([failureInput({ jobId: `storm-${i + k}`, lastFailedAt: at })])));
    }
    // The rule: at most one update per PUSH_INTERVAL_MS of the ledger's time. The first change
    // goes out at once; the clock has not moved, so everything after it waits and merges.
    await client.next(isUpdate);
    expect(client.updates()).toHaveLength(1);

    await freezeClock(tenant, at + PUSH_INTERVAL_MS);
    const merged = await client.next((m): m is Update => isUpdate(m) && m.stats.total === storm);
    expect(client.updates()).toHaveLength(2);
    // More changed than one update carries: the newest MAX_CHANGED, and a word to re-read the lists.
    expect(merged.failures).toHaveLength(MAX_CHANGED);
    expect(merged.truncated).toBe(true);
    expect(merged.seq).toBe(client.updates()[0]!.seq + 1);
    await freezeClock(tenant, null);
    client.close();
  });

  it("keeps an update small: failures with huge stacks are cut, and the update says so", async () => {
    const tenant = uniqueTenant("big");
    const client = await connect(tenant);
    const stack = "at somewhere (x.js:1:1)\n".repeat(4_000); // about 100 KB each
    const jobs = ["big-1", "big-2", "big-3", "big-4"];
    await ledger(tenant).record(jobs.map((jobId) => failureInput({ jobId, error: { name: "Error", message: "boom", stack } })));
    const update = await client.next((m): m is Update => isUpdate(m) && m.stats.total === jobs.length);
    expect(update.failures.length).toBeGreaterThan(0);
    expect(update.failures.length).toBeLessThan(jobs.length);
    expect(update.truncated).toBe(true);
    client.close();
  });

  it("keeps pushing to a socket after the ledger hibernated: a fresh instance, memory gone, same socket", async () => {
    const tenant = uniqueTenant("sleep");
    const client = await connect(tenant);
    await ledger(tenant).record([failureInput({ jobId: "before" })]);
    const before = await client.updateWith("before");
    await runInDurableObject(ledger(tenant), (instance, state) => {
      (instance as unknown as { marker?: string }).marker = "the instance that accepted the socket";
      // Nothing is due soon, so no alarm wakes it while it idles.
      const next = state.storage.sql.exec<{ at: number | null }>(`SELECT MIN(due_at) AS at FROM due_work`).one().at;
      expect(next === null || next > Date.now() + 60_000).toBe(true);
    });

    // workerd evicts an object that has had no event for 10 s and holds only hibernatable
    // sockets (and no timer). Idling past that is the only way to get there: nothing is asserted
    // about time, and if it did not hibernate the marker check below fails.
    await new Promise((resolve) => setTimeout(resolve, 15_000));

    await ledger(tenant).record([failureInput({ jobId: "after" })]);
    const after = await client.updateWith("after");
    await runInDurableObject(ledger(tenant), (instance, state) => {
      // The constructor ran again: the marker is gone, the socket was not.
      expect((instance as unknown as { marker?: string }).marker).toBeUndefined();
      expect(state.getWebSockets()).toHaveLength(1);
    });
    // The seq went on from the socket's attachment, not from memory.
    expect(after.seq).toBe(before.seq + 1);
    expect(after.stats.total).toBe(2);
    // Pings are answered by the runtime, not the object.
    client.ws.send("ping");
    await client.text("pong");
    client.close();
  }, 60_000);

  it("answers a reconnect with the last seq: resumed when nothing was missed, a snapshot when it was", async () => {
    const tenant = uniqueTenant("resume");
    const watcher = await connect(tenant);
    await ledger(tenant).record([failureInput({ jobId: "r-1" })]);
    const seen = (await watcher.updateWith("r-1")).seq;

    const resumed = await connect(tenant, { since: seen });
    expect(resumed.received[0]).toEqual({ type: "resumed", seq: seen });
    const stale = await connect(tenant, { since: seen - 1 });
    expect(stale.received[0]).toMatchObject({ type: "snapshot", seq: seen, failures: [expect.objectContaining({ jobId: "r-1" })] });
    for (const c of [watcher, resumed, stale]) c.close();

    // The ledger is reset (as by a deploy): sockets drop, memory is lost, storage stays.
    await abortAllDurableObjects();
    await ledger(tenant).record([failureInput({ jobId: "r-2" })]);
    const back = await connect(tenant, { since: seen });
    const snapshot = back.received[0] as Snapshot;
    expect(snapshot.type).toBe("snapshot");
    expect(snapshot.seq).toBeGreaterThan(seen);
    expect(snapshot.failures.map((f) => f.jobId)).toContain("r-2");

    // The same, asked on the open socket.
    back.ws.send(JSON.stringify({ type: "sync", since: snapshot.seq }));
    expect(await back.next((m): m is { type: "resumed"; seq: number } => m.type === "resumed")).toEqual({ type: "resumed", seq: snapshot.seq });
    back.ws.send(JSON.stringify({ type: "subscribe", everything: true }));
    expect(await back.next((m): m is { type: "error"; error: { code: string; message: string } } => m.type === "error")).toMatchObject({
      error: { code: "invalid_message" },
    });
    back.close();
  });

  it("closes the sockets of a revoked token and voids its unused tickets", async () => {
    const tenant = uniqueTenant("revoke");
    const { token, id } = await createToken(tenant, "watcher");
    const other = await createToken(tenant, "stays");
    const doomed = await connect(tenant, { token });
    const stays = await connect(tenant, { token: other.token });
    const unused = await liveTicket(tenant, token);

    expect((await apiFetch(`/api/admin/tokens/${id}`, { method: "DELETE" })).status).toBe(200);
    expect(await doomed.closed).toEqual({ code: 4401, reason: "token revoked" });
    const refused = await upgrade({ tenant, ticket: unused });
    expect(refused.status).toBe(401);

    // A ticket that a request authenticated just before the revoke gets issued after it: void too.
    const late = await ledger(tenant).issueLiveTicket({ tokenId: id, scope: "operate", actor: "watcher" });
    expect((await upgrade({ tenant, ticket: late.ticket })).status).toBe(401);

    // The other token's socket is still served.
    await ledger(tenant).record([failureInput({ jobId: "still-watched" })]);
    await stays.updateWith("still-watched");
    stays.close();
  });
});

describe("GET /api/live refusals, all before any upgrade, in the one error shape", () => {
  const refusedWith = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    expect(res.webSocket).toBeNull();
    expect(await res.json()).toMatchObject({ error: { code, message: expect.any(String) } });
  };

  it("refuses a wrong, a used and an expired ticket", async () => {
    const tenant = uniqueTenant("tickets");
    await refusedWith(await upgrade({ tenant, ticket: `lt_${"x".repeat(43)}` }), 401, "unauthorized");
    await refusedWith(await upgrade({ tenant, ticket: "not-a-ticket" }), 400, "invalid_request");
    await refusedWith(await upgrade({ tenant }), 400, "invalid_request");

    const ticket = await liveTicket(tenant);
    const first = await upgrade({ tenant, ticket });
    expect(first.status).toBe(101);
    first.webSocket!.accept();
    await refusedWith(await upgrade({ tenant, ticket }), 401, "unauthorized");
    first.webSocket!.close(1000);

    const late = await liveTicket(tenant);
    await freezeClock(tenant, Date.now() + 61_000); // tickets last 60 s
    await refusedWith(await upgrade({ tenant, ticket: late }), 401, "unauthorized");
    await freezeClock(tenant, null);
  });

  it("keeps a tenant to its own ledger: no ticket for another tenant, no ticket across tenants", async () => {
    const a = uniqueTenant("a");
    const b = uniqueTenant("b");
    const bToken = (await createToken(b, "bob")).token;
    await refusedWith(await apiFetch(`/api/live/ticket?tenant=${a}`, { method: "POST" }, bToken), 404, "not_found");
    const bTicket = await liveTicket(b, bToken);
    await refusedWith(await upgrade({ tenant: a, ticket: bTicket }), 401, "unauthorized");

    // B's own socket sees B, never A.
    const bSocket = await connect(b, { token: bToken });
    await ledger(a).record([failureInput({ jobId: "a-only" })]);
    await ledger(b).record([failureInput({ jobId: "b-only" })]);
    const update = await bSocket.updateWith("b-only");
    expect(update.stats).toMatchObject({ tenant: b, total: 1 });
    expect(bSocket.received.flatMap((m) => (isUpdate(m) ? m.failures.map((f) => f.jobId) : []))).not.toContain("a-only");
    bSocket.close();
  });

  it("refuses a request that is not an upgrade, and a page from an origin not configured", async () => {
    const tenant = uniqueTenant("origin");
    await refusedWith(await upgrade({ tenant, ticket: await liveTicket(tenant) }, {}), 426, "upgrade_required");
    const ticket = await liveTicket(tenant);
    await refusedWith(await upgrade({ tenant, ticket }, { upgrade: "websocket", origin: "https://evil.example" }), 403, "forbidden");
    // Refused by the worker: the ticket was not used up, and a page on the worker's own origin may open it.
    const own = await upgrade({ tenant, ticket }, { upgrade: "websocket", origin: "http://local" });
    expect(own.status).toBe(101);
    own.webSocket!.accept();
    own.webSocket!.close(1000);
  });

  it("lets a page on an origin of CORS_ORIGINS connect", async () => {
    const tenant = uniqueTenant("cors");
    const ticket = await liveTicket(tenant);
    const request = (origin: string): Request<unknown, IncomingRequestCfProperties> =>
      new Request(`http://local/api/live?${new URLSearchParams({ tenant, ticket })}`, { headers: { upgrade: "websocket", origin } });
    const configured = { ...env, CORS_ORIGINS: "https://ops.example.com" };
    await refusedWith(await worker.fetch(request("https://other.example.com"), configured, createExecutionContext()), 403, "forbidden");
    const ok = await worker.fetch(request("https://ops.example.com"), configured, createExecutionContext());
    expect(ok.status).toBe(101);
    ok.webSocket!.accept();
    const first = await new Promise<string>((resolve) => ok.webSocket!.addEventListener("message", (e: MessageEvent) => resolve(e.data as string)));
    expect(JSON.parse(first)).toMatchObject({ type: "snapshot", tenant });
    ok.webSocket!.close(1000);
  });
});

describe("POST /api/live/ticket", () => {
  it("answers a single-use ticket bound to the tenant and the token's scope", async () => {
    const tenant = uniqueTenant("issue");
    const res = await apiFetch(`/api/live/ticket?tenant=${tenant}`, { method: "POST" });
    expect(res.status).toBe(201);
    const body = await res.json<{ ticket: string; scope: string; expiresAt: string; url: string }>();
    expect(body).toMatchObject({ tenant, scope: "admin", url: `/api/live?tenant=${tenant}&ticket=${body.ticket}` });
    expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const { token } = await createToken(tenant, "ops");
    const own = await apiFetch(`/api/live/ticket`, { method: "POST" }, token);
    expect(await own.json()).toMatchObject({ tenant, scope: "operate" });
    const reader = await createToken(tenant, "viewer", "read");
    const read = await apiFetch(`/api/live/ticket`, { method: "POST" }, reader.token);
    expect(read.status).toBe(201);
    expect(await read.json()).toMatchObject({ tenant, scope: "read" });
  });
});
