// The triage routes: an operate token resolves, acknowledges and reopens a group, a read token may
// only read its history; unknown groups answer 404 and malformed requests 400, in the one error shape.

import { describe, expect, it } from "vitest";
import { FUTURE, failureInput, ledger, tuneLedger, uniqueTenant } from "../support/failures";
import { apiFetch, createToken } from "../support/api";

const GROUP = "bbbbbbbbbbbbbbbb";

async function setup() {
  const tenant = uniqueTenant("triage-api");
  const stub = ledger(tenant);
  await tuneLedger(stub, { now: FUTURE });
  await stub.record([failureInput({ jobId: "j1", fingerprint: GROUP, lastFailedAt: FUTURE - 1000 })]);
  return { tenant, operate: (await createToken(tenant, "oncall", "operate")).token, read: (await createToken(tenant, "viewer", "read")).token };
}

const post = (path: string, token: string, body?: unknown) =>
  apiFetch(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }) }, token);

describe("group triage over HTTP", () => {
  it("resolves with a note, acknowledges and reopens; the history says who did what", async () => {
    const { operate, read } = await setup();
    const resolved = await post(`/api/queue/dlq/groups/${GROUP}/resolve`, operate, { note: "fixed in deploy 42" });
    expect(resolved.status).toBe(200);
    expect(await resolved.json()).toMatchObject({ fingerprint: GROUP, state: "resolved", substate: null, stateChangedBy: "oncall", sparkline: expect.any(Array) });
    expect(await (await post(`/api/queue/dlq/groups/${GROUP}/acknowledge`, operate)).json()).toMatchObject({ state: "resolved" });
    expect(await (await post(`/api/queue/dlq/groups/${GROUP}/reopen`, operate)).json()).toMatchObject({ state: "open", substate: "ongoing" });
    const groups = (await (await apiFetch(`/api/queue/dlq/groups`, {}, read)).json()) as { items: { fingerprint: string; state: string }[] };
    expect(groups.items).toEqual([expect.objectContaining({ fingerprint: GROUP, state: "open" })]);

    const history = (await (await apiFetch(`/api/queue/dlq/groups/${GROUP}/history`, {}, read)).json()) as { items: { seq: number; action: string; actor: string; detail: unknown }[] };
    expect(history.items.map(({ action, actor, detail }) => ({ action, actor, detail }))).toEqual([
      { action: "reopen", actor: "oncall", detail: null },
      { action: "resolve", actor: "oncall", detail: { note: "fixed in deploy 42" } },
    ]);
    const older = (await (await apiFetch(`/api/queue/dlq/groups/${GROUP}/history?before=${history.items[0]!.seq}`, {}, read)).json()) as { items: unknown[] };
    expect(older.items).toHaveLength(1);

    const one = await apiFetch(`/api/queue/dlq/groups/${GROUP}`, {}, read);
    expect(one.status).toBe(200);
    const detail = (await one.json()) as { state: string; count: number; sparkline: number[]; history: { action: string }[]; sample: { jobId: string }[] };
    expect(detail).toMatchObject({ state: "open", count: 1 });
    expect(detail.sparkline).toHaveLength(24);
    expect(detail.history.map((e) => e.action)).toEqual(["reopen", "resolve"]);
    expect(detail.sample.map((f) => f.jobId)).toEqual(["j1"]);
    const missing = await apiFetch(`/api/queue/dlq/groups/ffffffffffffffff`, {}, read);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found", message: "no group ffffffffffffffff in this tenant" } });
  });

  it("refuses a read token, an unknown group, a malformed fingerprint and a note too long, storing nothing", async () => {
    const { operate, read } = await setup();
    const refused = await post(`/api/queue/dlq/groups/${GROUP}/resolve`, read);
    expect(refused.status).toBe(403);
    const unknown = await post(`/api/queue/dlq/groups/ffffffffffffffff/resolve`, operate);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "not_found", message: "no group ffffffffffffffff in this tenant" } });
    const malformed = await post(`/api/queue/dlq/groups/not-a-group/resolve`, operate);
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_request" } });
    const tooLong = await post(`/api/queue/dlq/groups/${GROUP}/resolve`, operate, { note: "x".repeat(4097) });
    expect(tooLong.status).toBe(400);
    const history = (await (await apiFetch(`/api/queue/dlq/groups/${GROUP}/history`, {}, read)).json()) as { items: unknown[] };
    expect(history.items).toEqual([]);
  });
});
