import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { apiFetch } from "../support/api";
import { failureInput, ledger, uniqueTenant } from "../support/failures";

const tenant = uniqueTenant("hhttp");
const INJECTIONS = [
  "' OR '1'='1",
  "1; DROP TABLE failures; --",
  "<script>alert(1)</script>",
  "../../etc/passwd",
  "%00",
  "${jndi:ldap://x}",
  '{"$gt":""}',
  "\u202e\u0000",
  "x".repeat(5000),
];

interface Hostile {
  what: string;
  method: string;
  path: string;
  body?: BodyInit;
  headers?: Record<string, string>;
}

const q = (params: Record<string, string>) => new URLSearchParams({ tenant, ...params }).toString();

const HOSTILE: Hostile[] = [
  // Injection strings in every query parameter of the read routes.
  ...INJECTIONS.flatMap((s): Hostile[] => [
    { what: `limit=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures?${q({ limit: s })}` },
    { what: `class=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures?${q({ class: s })}` },
    { what: `status=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures?${q({ status: s })}` },
    { what: `group=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures?${q({ group: s })}` },
    { what: `cursor=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures?${q({ cursor: s })}` },
    { what: `tenant=${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/stats?${new URLSearchParams({ tenant: s })}` },
    { what: `unknown parameter ${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/groups?${q({ [s.slice(0, 100)]: "1" })}` },
  ]),
  // Injection strings in path parameters: a failure that does not exist, or a malformed id.
  ...INJECTIONS.map((s): Hostile => ({ what: `jobId ${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/failures/${encodeURIComponent(s)}?${q({})}` })),
  ...INJECTIONS.map((s): Hostile => ({ what: `operation id ${s.slice(0, 20)}`, method: "GET", path: `/api/queue/dlq/operations/${encodeURIComponent(s)}?${q({})}` })),
  { what: "bad percent-encoding", method: "GET", path: `/api/queue/dlq/failures/%E0%A4%A?${q({})}` },
  { what: "a repeated parameter", method: "GET", path: `/api/queue/dlq/failures?${q({})}&limit=1&limit=2` },
  { what: "limit 0", method: "GET", path: `/api/queue/dlq/failures?${q({ limit: "0" })}` },
  { what: "limit 1e9", method: "GET", path: `/api/queue/dlq/failures?${q({ limit: "1000000000" })}` },
  { what: "limit -1", method: "GET", path: `/api/queue/dlq/failures?${q({ limit: "-1" })}` },
  { what: "limit 1.5", method: "GET", path: `/api/queue/dlq/failures?${q({ limit: "1.5" })}` },
  // Wrong methods.
  ...["PUT", "PATCH", "DELETE"].map((method): Hostile => ({ what: `${method} stats`, method, path: `/api/queue/dlq/stats?${q({})}` })),
  { what: "GET on requeue", method: "GET", path: `/api/queue/dlq/failures/j1/requeue?${q({})}` },
  { what: "POST on the failures list", method: "POST", path: `/api/queue/dlq/failures?${q({})}`, body: "{}" },
  // Bodies: oversized, not JSON, invalid UTF-8, wrong shapes, injection in every field.
  { what: "a 2 MB body", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: "x".repeat(2 * 1024 * 1024) },
  { what: "a 2 MB body on abandon", method: "POST", path: `/api/queue/dlq/failures/j1/abandon?${q({})}`, body: JSON.stringify({ reason: "r".repeat(2 * 1024 * 1024) }) },
  { what: "not JSON", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: "action=requeue" },
  { what: "invalid UTF-8", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
  { what: "a JSON array", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: "[]" },
  { what: "JSON null", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: "null" },
  { what: "an unknown action", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: JSON.stringify({ action: "delete", filter: {} }) },
  { what: "an unknown filter field", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: JSON.stringify({ action: "requeue", filter: { sql: "1=1" } }) },
  { what: "rate as text", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: JSON.stringify({ action: "requeue", filter: {}, rate: "fast" }) },
  { what: "a __proto__ body", method: "POST", path: `/api/queue/dlq/operations?${q({})}`, body: '{"__proto__":{"dryRun":false},"action":"requeue"}' },
  { what: "abandon without a reason", method: "POST", path: `/api/queue/dlq/failures/j1/abandon?${q({})}`, body: "{}" },
  { what: "abandon with an empty reason", method: "POST", path: `/api/queue/dlq/failures/j1/abandon?${q({})}`, body: JSON.stringify({ reason: "   " }) },
  { what: "requeue with a negative delay", method: "POST", path: `/api/queue/dlq/failures/j1/requeue?${q({})}`, body: JSON.stringify({ delaySeconds: -5 }) },
  { what: "requeue with a 13 h delay", method: "POST", path: `/api/queue/dlq/failures/j1/requeue?${q({})}`, body: JSON.stringify({ delaySeconds: 46_800 }) },
  { what: "a token for a tenant with path characters", method: "POST", path: "/api/admin/tokens", body: JSON.stringify({ tenant: "../x", label: "l" }) },
  { what: "a token with an injection label", method: "POST", path: "/api/admin/tokens", body: JSON.stringify({ tenant, label: "x".repeat(5000) }) },
  { what: "mark read with 1000 ids", method: "POST", path: `/api/notifications/read?${q({})}`, body: JSON.stringify({ userId: "u", ids: Array.from({ length: 1000 }, (_, i) => `n:${i}`) }) },
  { what: "notifications without a user", method: "GET", path: `/api/notifications?${q({})}` },
  { what: "unread=maybe", method: "GET", path: `/api/notifications?${q({ userId: "u", unread: "maybe" })}` },
];

beforeAll(async () => {
  await ledger(tenant).record([failureInput({ jobId: "j1", class: "USER_ERROR", userId: undefined })]);
});

describe("hostile HTTP requests", () => {
  it(`answers each of ${HOSTILE.length} hostile requests with a clear 4xx in the one error shape, and stores nothing`, async () => {
    expect(HOSTILE.length).toBeGreaterThanOrEqual(50);
    const statsBefore = await ledger(tenant).stats();
    const tokensBefore = await env.DB.prepare(`SELECT COUNT(*) AS n FROM api_tokens`).first<{ n: number }>();

    for (const h of HOSTILE) {
      const res = await apiFetch(h.path, { method: h.method, body: h.body, headers: { "content-type": "application/json", ...h.headers } });
      const text = await res.text();
      expect(res.status, `${h.what}: ${text.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${h.what}: ${text.slice(0, 200)}`).toBeLessThan(500);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      expect(Object.keys(body), h.what).toEqual(["error"]);
      expect(body.error.code, h.what).toMatch(/^[a-z_]+$/);
      expect(body.error.message.length, h.what).toBeGreaterThan(0);
      expect(text, h.what).not.toContain("    at "); // no stack traces
    }

    const statsAfter = await ledger(tenant).stats();
    expect(statsAfter).toMatchObject({ total: statsBefore.total, byStatus: statsBefore.byStatus, recovery: { manualRequeues: 0, abandoned: 0 } });
    expect((await ledger(tenant).getFailure("j1"))?.status).toBe("open");
    expect(await env.DB.prepare(`SELECT COUNT(*) AS n FROM api_tokens`).first<{ n: number }>()).toEqual(tokensBefore);
  });
});
