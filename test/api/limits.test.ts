import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { isTenantRoute } from "../../src/api/route";
import { ROUTES } from "../../src/api/routes";
import { apiFetch, createToken } from "../support/api";
import { uniqueTenant } from "../support/failures";

/** simple.limit of API_RATE_LIMIT in wrangler.toml (requests per token per 60 s window). */
const LIMIT = 600;

async function fetchWith(environment: Env, request: Request): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, environment, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

/**
 * Sends until the first 429, each other answer a 200. The windows are fixed: a burst that
 * straddles a boundary gets up to two windows' worth, so it stops after 2 × limit + 1.
 */
async function untilLimited(request: () => Promise<Response>, limit: number): Promise<{ ok: number; limited: Response | null }> {
  let ok = 0;
  for (let sent = 0; sent < 2 * limit + 1; sent++) {
    const res = await request();
    if (res.status === 429) return { ok, limited: res };
    expect(res.status).toBe(200);
    ok++;
    await res.arrayBuffer();
  }
  return { ok, limited: null };
}

describe("rate limit", () => {
  it("answers 429 with Retry-After once a token spends its window, and only that token", async () => {
    const tenant = uniqueTenant("rl");
    const { token } = await createToken(tenant, "busy");
    // Straight into the handler: exports.default.fetch slows down with every call in the pool.
    const request = () =>
      fetchWith(env, new Request("http://local/api/openapi.json", { headers: { authorization: `Bearer ${token}` } }));
    const { ok, limited } = await untilLimited(request, LIMIT);
    expect(limited).not.toBeNull();
    expect(ok).toBeGreaterThanOrEqual(LIMIT);
    const retryAfter = Number(limited!.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(await limited!.json()).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("retry in") } });

    // Another token is not affected.
    expect((await apiFetch(`/api/queue/dlq/groups?tenant=${tenant}&limit=1`)).status).toBe(200);
  }, 60_000);
});

describe("the admin token's rate limit", () => {
  /** simple.limit of ADMIN_RATE_LIMIT in wrangler.toml. */
  const ADMIN_LIMIT = 3000;

  it("is its own, higher one: past a tenant token's limit the admin is still served, then refused with 429", async () => {
    // Its own admin token (the limit is keyed by the token's digest), so no other test shares the window.
    const adminToken = `admin-${crypto.randomUUID()}`;
    const adminEnv = { ...env, ADMIN_TOKEN: adminToken };
    const request = () => fetchWith(adminEnv, new Request("http://local/api/openapi.json", { headers: { authorization: `Bearer ${adminToken}` } }));
    const { ok, limited } = await untilLimited(request, ADMIN_LIMIT);
    expect(ok).toBeGreaterThanOrEqual(ADMIN_LIMIT);
    expect(ok).toBeGreaterThan(2 * LIMIT);
    expect(limited?.status).toBe(429);
    expect(await limited!.json()).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("retry in") } });
  }, 240_000);
});

describe("request bodies", () => {
  const withBody = ROUTES.filter((r) => r.body);

  it.each(withBody.map((r) => [`${r.method} ${r.path}`, r] as const))("%s refuses a body over its limit with 413", async (_name, route) => {
    const max = route.body!.maxBytes ?? 64 * 1024;
    // a well-formed parameter (a group's fingerprint is 16 hex digits), so the body's size is what is refused
    const path = route.path.replace(/:(\w+)/g, (_, name: string) => (name === "fingerprint" ? "0".repeat(16) : "x")) + (isTenantRoute(route) ? "?tenant=big" : "");
    const body = JSON.stringify({ pad: "x".repeat(max) });
    const res = await apiFetch(path, { method: route.method, headers: { "content-type": "application/json" }, body });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ error: { code: "payload_too_large", message: `request body must be at most ${max} bytes` } });
  });

  it("cuts off a streamed body without a Content-Length at the limit", async () => {
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > 1024 * 1024) return controller.close();
        sent += 16 * 1024;
        controller.enqueue(new Uint8Array(16 * 1024).fill(32));
      },
    });
    const res = await apiFetch("/api/queue/dlq/operations?tenant=big", { method: "POST", body: stream });
    expect(res.status).toBe(413);
    expect(sent).toBeLessThan(1024 * 1024);
  });

  it("refuses a body on a route that takes none", async () => {
    const { id } = await createToken(uniqueTenant("del"), "x");
    const res = await apiFetch(`/api/admin/tokens/${id}`, { method: "DELETE", body: "{}" });
    expect(res.status).toBe(400);
  });

  it("refuses JSON that is not JSON", async () => {
    const res = await apiFetch("/api/admin/tokens", { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
    expect((await res.json<any>()).error.code).toBe("invalid_json");
  });
});

describe("unexpected errors", () => {
  it("are logged and answered with a generic 500 in the one error shape", async () => {
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    // A worker whose D1 binding is missing: the handler throws a TypeError nobody expected.
    const res = await fetchWith(
      { ...env, DB: undefined as unknown as D1Database },
      new Request("http://local/api/admin/tokens", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }),
    );
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "Something went wrong on our side; it has been logged." } });
    expect(logged).toHaveBeenCalledWith("unhandled error in API", expect.any(TypeError));
    logged.mockRestore();
  });
});

describe("CORS", () => {
  const origin = "https://ops.example.com";

  it("is off unless configured: no CORS headers, and preflights are not served", async () => {
    const res = await apiFetch("/api/queue/dlq/stats?tenant=x", { headers: { origin } });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    const pre = await apiFetch("/api/queue/dlq/stats", { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET" } }, null);
    expect(pre.status).toBe(405);
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("allows exactly the configured origins", async () => {
    const configured = { ...env, CORS_ORIGINS: `${origin}, https://other.example.com` };
    const pre = await fetchWith(
      configured,
      new Request("http://local/api/queue/dlq/stats", { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET" } }),
    );
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(origin);
    expect(pre.headers.get("access-control-allow-headers")).toContain("authorization");

    const get = await fetchWith(
      configured,
      new Request("http://local/api/queue/dlq/stats?tenant=x", { headers: { origin, authorization: `Bearer ${env.ADMIN_TOKEN}` } }),
    );
    expect(get.headers.get("access-control-allow-origin")).toBe(origin);
    // Errors carry them too, so the browser can read the error.
    const denied = await fetchWith(configured, new Request("http://local/api/queue/dlq/stats", { headers: { origin } }));
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBe(origin);

    const stranger = await fetchWith(
      configured,
      new Request("http://local/api/queue/dlq/stats", { method: "OPTIONS", headers: { origin: "https://evil.example", "access-control-request-method": "GET" } }),
    );
    expect(stranger.status).toBe(403);
    expect(stranger.headers.get("access-control-allow-origin")).toBeNull();
  });
});
