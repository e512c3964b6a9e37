// The auth matrix: every route of the table, under every kind of credential. A route added to
// the table is checked here without anyone remembering to (and fails until it has an example).

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { FailureLedger } from "../../src/failure-ledger";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ROUTES } from "../../src/api/routes";
import { isTenantRoute, type Route } from "../../src/api/route";
import { apiFetch, createToken } from "../support/api";
import { d1Of, ledger, uniqueTenant } from "../support/failures";
import { script } from "../support/notify";
import { ORIGIN, recoverable } from "../support/recovery";

const A = uniqueTenant("owner");
const B = uniqueTenant("other");
const GHOST = uniqueTenant("ghost"); // a tenant that never existed

let bToken = "";
let revokedToken = "";
let operationId = "";
let doomedTokenId = "";
let readToken = "";
let operateToken = "";

interface Example {
  params?: () => Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  /** The admin's success status, when not the route's first documented one. */
  status?: number;
  /** For the scope matrix: a body that would change something, when `body` does not (a dry run). */
  change?: unknown;
}

/** A valid call of every route, acting on tenant A's resources. */
const examples: Record<string, Example> = {
  "GET /health": {},
  "GET /metrics": {},
  "GET /api/openapi.json": {},
  "GET /api/session": {},
  "GET /api/queue/dlq/stats": {},
  "GET /api/queue/dlq/failures": {},
  "GET /api/queue/dlq/failures/:jobId": { params: () => ({ jobId: "job-show" }) },
  "GET /api/queue/dlq/failures/:jobId/history": { params: () => ({ jobId: "job-hist" }) },
  "POST /api/queue/dlq/failures/:jobId/requeue": { params: () => ({ jobId: "job-rq" }), body: { delaySeconds: 0 } },
  "POST /api/queue/dlq/failures/:jobId/abandon": { params: () => ({ jobId: "job-ab" }), body: { reason: "auth matrix" } },
  "POST /api/queue/dlq/operations": {
    body: { action: "requeue", filter: { queue: ORIGIN }, dryRun: true },
    change: { action: "abandon", filter: { queue: ORIGIN }, reason: "scope matrix" },
  },
  "GET /api/queue/dlq/operations": {},
  "GET /api/queue/dlq/operations/:id": { params: () => ({ id: operationId }) },
  "GET /api/queue/dlq/groups": {},
  "GET /api/queue/dlq/groups/:fingerprint": { params: () => ({ fingerprint: "aaaaaaaaaaaaaaaa" }) },
  "POST /api/queue/dlq/groups/:fingerprint/resolve": { params: () => ({ fingerprint: "aaaaaaaaaaaaaaaa" }), body: { note: "auth matrix" } },
  "POST /api/queue/dlq/groups/:fingerprint/acknowledge": { params: () => ({ fingerprint: "aaaaaaaaaaaaaaaa" }) },
  "POST /api/queue/dlq/groups/:fingerprint/reopen": { params: () => ({ fingerprint: "aaaaaaaaaaaaaaaa" }) },
  "GET /api/queue/dlq/groups/:fingerprint/history": { params: () => ({ fingerprint: "aaaaaaaaaaaaaaaa" }) },
  "GET /api/queue/dlq/series": { query: { group: "aaaaaaaaaaaaaaaa" } },
  "GET /api/queue/dlq/parking": {},
  "POST /api/live/ticket": {},
  // Takes a ticket, not a token: test/live/live.test.ts checks its refusals.
  "GET /api/live": { query: { ticket: `lt_${"A".repeat(43)}` } },
  "GET /api/notifications": { query: { userId: "u-1" } },
  "POST /api/notifications/read": { body: { userId: "u-1", ids: ["n:job-show"] } },
  "POST /api/admin/tokens": { body: { tenant: A, label: "matrix" } },
  "GET /api/admin/tokens": {},
  "DELETE /api/admin/tokens/:id": { params: () => ({ id: doomedTokenId }) },
  "POST /dev/jobs": { body: { tenantId: A, jobId: "dev-job", fail: "none", succeedAfter: 0 } },
  "POST /dev/dlq": { body: { tenantId: A, jobId: "dev-raw" } },
};

const key = (route: Route) => `${route.method} ${route.path}`;

function url(route: Route, tenant: string | null, example = examples[key(route)]!): string {
  const params = example.params?.() ?? {};
  const path = route.path.replace(/:(\w+)/g, (_, name: string) => encodeURIComponent(params[name]!));
  const query = new URLSearchParams({ ...(tenant === null ? {} : { tenant }), ...example.query }).toString();
  return query ? `${path}?${query}` : path;
}

async function call(route: Route, options: { token?: string | null; header?: string; tenant?: string | null; body?: unknown } = {}) {
  const example = { ...examples[key(route)]!, ...("body" in options ? { body: options.body } : {}) };
  const tenant = options.tenant === undefined ? (isTenantRoute(route) ? A : null) : options.tenant;
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.header !== undefined) headers.authorization = options.header;
  const res = await apiFetch(
    url(route, tenant),
    { method: route.method, headers, body: example.body === undefined ? undefined : JSON.stringify(example.body) },
    options.token === undefined ? null : options.token,
  );
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text.startsWith("{") ? (JSON.parse(text) as any) : text };
}

const guarded = ROUTES.filter((r) => r.access !== "public" && r.access !== "dev" && r.access !== "ticket");

beforeAll(async () => {
  // /dev/jobs forwards to the example worker's producer (here the receiver): it accepts one call.
  await script("jobs-worker", [{ status: 202, json: { enqueued: 1, queue: "jobs", jobIds: ["dev-job"] } }]);
  await ledger(A).record(["job-show", "job-hist", "job-rq", "job-ab"].map((jobId) => recoverable(A, jobId, { class: "USER_ERROR" })));
  const started = await apiFetch(`/api/queue/dlq/operations?tenant=${A}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ action: "abandon", filter: { queue: "no-such-queue" }, reason: "matrix" }),
  });
  operationId = (await started.json<{ id: string }>()).id;
  bToken = (await createToken(B, "bob")).token;
  const revoked = await createToken(B, "gone");
  revokedToken = revoked.token;
  expect((await apiFetch(`/api/admin/tokens/${revoked.id}`, { method: "DELETE" })).status).toBe(200);
  doomedTokenId = (await createToken(B, "doomed")).id;
  readToken = (await createToken(A, "viewer", "read")).token;
  operateToken = (await createToken(A, "operator", "operate")).token;
});

describe("the route table", () => {
  it("has an example call for every route (add one here when you add a route)", () => {
    expect(ROUTES.map(key).filter((k) => !(k in examples))).toEqual([]);
  });

  it("puts every /api route behind a token", () => {
    expect(ROUTES.filter((r) => r.path.startsWith("/api/") && (r.access === "public" || r.access === "dev")).map(key)).toEqual([]);
  });
});

describe.each(guarded.map((r) => [key(r), r] as const))("%s", (_name, route) => {
  const refusal = (message: RegExp) => ({ error: { code: "unauthorized", message: expect.stringMatching(message) } });

  it("refuses a request without a token: 401 with a Bearer challenge", async () => {
    const res = await call(route);
    expect(res.status).toBe(401);
    expect(res.body).toEqual(refusal(/Authorization: Bearer/));
    expect(res.headers.get("www-authenticate")).toBe('Bearer realm="dlq-ledger"');
  });

  it.each(["Basic dGVzdDp0ZXN0", "Bearer", "Bearer two words", "bearer-test-admin-token", `Token ${"x".repeat(10)}`])(
    "refuses a malformed header (%s)",
    async (header) => {
      const res = await call(route, { header });
      expect(res.status).toBe(401);
      expect(res.body).toEqual(refusal(/must be 'Bearer <token>'/));
    },
  );

  it("refuses a wrong token and a revoked one alike", async () => {
    const wrong = await call(route, { token: "dlq_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" });
    const almostAdmin = await call(route, { token: `${env.ADMIN_TOKEN}x` });
    const revoked = await call(route, { token: revokedToken });
    for (const res of [wrong, almostAdmin, revoked]) {
      expect(res.status).toBe(401);
      expect(res.body).toEqual(refusal(/not valid/));
    }
    expect(revoked.text).toBe(wrong.text);
  });

  if (route.access === "admin") {
    it("refuses a tenant token: 403", async () => {
      const res = await call(route, { token: bToken });
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe("forbidden");
    });
  }

  if (isTenantRoute(route)) {
    it("answers another tenant's token with the same 404 as a missing resource, and changes nothing", async () => {
      const before = await ledger(A).stats();
      const theirs = await call(route, { token: bToken, tenant: A });
      const ghost = await call(route, { token: bToken, tenant: GHOST });
      expect(theirs.status).toBe(404);
      expect(theirs.body.error.code).toBe("not_found");
      expect(ghost.text).toBe(theirs.text);
      if (route.notFound) {
        // The same ids in the token's own tenant, where they do not exist.
        const own = await call(route, { token: bToken, tenant: B });
        expect(own.status).toBe(404);
        expect(own.text).toBe(theirs.text);
      }
      const after = await ledger(A).stats();
      expect(after.recovery).toEqual(before.recovery);
      expect(after.byStatus).toEqual(before.byStatus);
    });

    it("takes the tenant from a tenant token when none is named", async () => {
      const res = await call(route, { token: bToken, tenant: null });
      // B has none of A's resources: a 404 for those, an answer about B for the rest.
      if (route.notFound) expect(res.status).toBe(404);
      else {
        expect(res.status).toBeLessThan(300);
        if (route.path.endsWith("/stats")) expect(res.body.tenant).toBe(B);
      }
    });
  }

  if (isTenantRoute(route) && !route.path.endsWith("/stats")) {
    it("makes the admin name a tenant", async () => {
      const res = await call(route, { token: env.ADMIN_TOKEN!, tenant: null });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toMatch(/tenant/);
    });
  }

  it("serves the admin token, with a body that matches the documented schema", async () => {
    const res = await call(route, { token: env.ADMIN_TOKEN! });
    const [first] = Object.keys(route.responses);
    const status = examples[key(route)]!.status ?? Number(first);
    expect(res.status, res.text).toBe(status);
    const spec = route.responses[status as 200]!;
    if ("schema" in spec) expect(() => spec.schema.parse(res.body)).not.toThrow();
    else if ("text" in spec) expect(res.headers.get("content-type")).toBe(spec.text);
  });
});

/** Everything tenant A has: every ledger table's rows, and its rows in D1. */
async function stateOf(tenant: string): Promise<string> {
  const ledgerRows = await runInDurableObject(ledger(tenant), (_i: FailureLedger, state) => {
    const sql = state.storage.sql;
    const tables = sql
      .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
      .toArray();
    return Object.fromEntries(tables.map(({ name }) => [name, sql.exec(`SELECT * FROM ${name}`).toArray()]));
  });
  const db = await d1Of(tenant);
  const d1 = await Promise.all(
    ["failures", "user_notifications"].map((table) => db.prepare(`SELECT * FROM ${table} WHERE tenant_id = ? ORDER BY 1, 2`).bind(tenant).all()),
  );
  return JSON.stringify({ ledgerRows, d1: d1.map((r) => r.results) });
}

/** POSTs a read token may make: none yet. One added here must change nothing a person would call a change. */
// A live ticket changes nothing a reader may not see: it opens the same views as a WebSocket.
const READ_SCOPED_POSTS: string[] = ["POST /api/live/ticket"];

describe("token scopes", () => {
  const mutating = ROUTES.filter((r) => r.method !== "GET" && !READ_SCOPED_POSTS.includes(key(r)));

  it("every route that changes something needs operate or the admin token", () => {
    expect(mutating.filter((r) => r.access !== "tenant:operate" && r.access !== "admin" && r.access !== "dev").map(key)).toEqual([]);
    expect(ROUTES.filter((r) => r.method === "GET" && r.access === "tenant:operate").map(key)).toEqual([]);
  });

  describe.each(mutating.filter((r) => r.access === "tenant:operate").map((r) => [key(r), r] as const))("%s", (_name, route) => {
    const change = () => examples[key(route)]!.change ?? examples[key(route)]!.body;

    it("refuses a read token with 403 forbidden, and changes nothing", async () => {
      const before = await stateOf(A);
      for (const tenant of [A, null]) {
        const res = await call(route, { token: readToken, tenant, body: change() });
        expect(res.status, res.text).toBe(403);
        expect(res.body).toEqual({ error: { code: "forbidden", message: expect.stringMatching(/scope operate/) } });
      }
      expect(await stateOf(A)).toBe(before);
    });

    it("serves an operate token and the admin token", async () => {
      const expected = examples[key(route)]!.status ?? Number(Object.keys(route.responses)[0]);
      expect((await call(route, { token: operateToken })).status).toBe(expected);
      expect((await call(route, { token: env.ADMIN_TOKEN! })).status).toBe(expected);
    });
  });

  it.each(ROUTES.filter((r) => r.access === "tenant:read" || r.access === "token").map((r) => [key(r), r] as const))(
    "%s serves a read token",
    async (_name, route) => {
      const res = await call(route, { token: readToken });
      expect(res.status, res.text).toBe(examples[key(route)]!.status ?? Number(Object.keys(route.responses)[0]));
    },
  );

  it("refuses a read token on the admin routes too", async () => {
    const res = await call(ROUTES.find((r) => r.access === "admin")!, { token: readToken });
    expect(res.status).toBe(403);
    expect(res.body.error.message).toMatch(/admin token/);
  });

  it("keeps a token created before scopes existed working as operate", async () => {
    const token = `dlq_${"o".repeat(43)}`;
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
    const hash = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
    // The insert the code before scopes made: no scope column named.
    await env.DB.prepare(`INSERT INTO api_tokens (id, tenant_id, label, token_hash, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?)`)
      .bind("tok_0123456789abcdef", A, "legacy", hash, Date.now(), "admin")
      .run();
    const listed = await (await apiFetch(`/api/admin/tokens?tenant=${A}`)).json<{ items: { label: string; scope: string }[] }>();
    expect(listed.items.find((t) => t.label === "legacy")?.scope).toBe("operate");
    const res = await apiFetch("/api/queue/dlq/failures/job-ab/abandon", { method: "POST", body: JSON.stringify({ reason: "legacy" }) }, token);
    expect(res.status).toBe(200);
  });

  it("are created read or operate (operate by default), and nothing else", async () => {
    const made = async (body: object) => apiFetch("/api/admin/tokens", { method: "POST", body: JSON.stringify({ tenant: A, ...body }) });
    expect(await (await made({ label: "r", scope: "read" })).json()).toMatchObject({ scope: "read" });
    expect(await (await made({ label: "d" })).json()).toMatchObject({ scope: "operate" });
    expect((await made({ label: "x", scope: "admin" })).status).toBe(400);
  });
});

describe("routes without a token", () => {
  it.each(ROUTES.filter((r) => r.access === "public" || r.access === "dev").map((r) => [key(r), r] as const))(
    "%s answers without one",
    async (_name, route) => {
      const res = await call(route);
      expect(res.status, res.text).toBe(Number(Object.keys(route.responses)[0]));
    },
  );

  it("lets the dev routes' work finish (so the file ends quiet)", async () => {
    await vi.waitFor(async () => expect(await ledger(A).getFailure("dev-raw")).not.toBeNull(), { timeout: 15_000, interval: 100 });
  });
});

describe("tenant tokens", () => {
  it("act with their label as the actor, on their own tenant only", async () => {
    const tenant = uniqueTenant("own");
    await ledger(tenant).record([recoverable(tenant, "mine", { class: "USER_ERROR" })]);
    const { token } = await createToken(tenant, "carol@example.com");
    const res = await apiFetch("/api/queue/dlq/failures/mine/abandon", { method: "POST", body: JSON.stringify({ reason: "dup" }) }, token);
    expect(res.status).toBe(200);
    expect(await ledger(tenant).history("mine")).toEqual([expect.objectContaining({ action: "abandon", actor: "carol@example.com" })]);
    // The admin's actions are the admin's.
    await apiFetch(`/api/queue/dlq/failures/mine/abandon?tenant=${tenant}`, { method: "POST", body: JSON.stringify({ reason: "again" }) });
    expect((await ledger(tenant).history("mine"))[0]).toMatchObject({ action: "abandon", actor: "carol@example.com" });
  });

  it("are stored only as a SHA-256 hash, shown once, and stop working when revoked", async () => {
    const tenant = uniqueTenant("tok");
    const created = await apiFetch("/api/admin/tokens", { method: "POST", body: JSON.stringify({ tenant, label: "dave" }) });
    expect(created.status).toBe(201);
    const { token, id } = await created.json<{ token: string; id: string }>();
    expect(token).toMatch(/^dlq_[A-Za-z0-9_-]{43}$/);

    const row = await env.DB.prepare(`SELECT * FROM api_tokens WHERE id = ?`).bind(id).first<Record<string, unknown>>();
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
    expect(row!.token_hash).toBe(Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join(""));
    expect(JSON.stringify(row)).not.toContain(token.slice(4));

    const listed = await (await apiFetch(`/api/admin/tokens?tenant=${tenant}`)).json<{ items: Record<string, unknown>[] }>();
    expect(listed.items).toEqual([{ id, tenant, label: "dave", scope: "operate", createdAt: expect.any(String), createdBy: "admin", revokedAt: null }]);

    expect((await apiFetch("/api/queue/dlq/stats", {}, token)).status).toBe(200);
    const revoked = await apiFetch(`/api/admin/tokens/${id}`, { method: "DELETE" });
    expect(await revoked.json()).toMatchObject({ id, revokedAt: expect.any(String) });
    expect((await apiFetch("/api/queue/dlq/stats", {}, token)).status).toBe(401);
    // Listed again only when asked for revoked tokens; revoking twice answers the same.
    expect((await (await apiFetch(`/api/admin/tokens?tenant=${tenant}`)).json<{ items: unknown[] }>()).items).toEqual([]);
    expect((await (await apiFetch(`/api/admin/tokens?tenant=${tenant}&revoked=true`)).json<{ items: unknown[] }>()).items).toHaveLength(1);
    expect((await apiFetch(`/api/admin/tokens/${id}`, { method: "DELETE" })).status).toBe(200);
    expect((await apiFetch(`/api/admin/tokens/tok_0000000000000000`, { method: "DELETE" })).status).toBe(404);
  });

  it.each([
    [{ tenant: "_quarantine", label: "x" }],
    [{ tenant: "ok", label: "admin" }],
    [{ tenant: "ok", label: "has space" }],
    [{ tenant: "ok" }],
    [{ tenant: "ok", label: "x", extra: 1 }],
  ])("refuses to create %j", async (body) => {
    const res = await apiFetch("/api/admin/tokens", { method: "POST", body: JSON.stringify(body) });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.code).toBe("invalid_request");
  });
});

describe("without ADMIN_TOKEN", () => {
  it("nobody is admin, whatever they send", async () => {
    const { default: worker } = await import("../../src/index");
    const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
    for (const header of ["Bearer undefined", "Bearer null", "Bearer test-admin-token"]) {
      const ctx = createExecutionContext();
      const res = await worker.fetch(
        new Request("http://local/api/admin/tokens", { headers: { authorization: header } }),
        { ...env, ADMIN_TOKEN: undefined },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(401);
    }
  });
});
