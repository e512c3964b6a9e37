import { env, exports } from "cloudflare:workers";

/** The admin token the tests run with (ADMIN_TOKEN in vitest.config.ts). */
export const ADMIN_TOKEN = env.ADMIN_TOKEN!;

/** Calls the worker's HTTP API with a token: the admin token unless another is given. */
export function apiFetch(path: string, init: RequestInit = {}, token: string | null = ADMIN_TOKEN): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${token}`);
  return exports.default.fetch(`http://local${path}`, { ...init, headers });
}

/** Creates a tenant token through the admin API; resolves with the token and its id. */
export async function createToken(tenant: string, label = "tester", scope?: "read" | "operate"): Promise<{ token: string; id: string }> {
  const res = await apiFetch("/api/admin/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenant, label, ...(scope ? { scope } : {}) }),
  });
  if (res.status !== 201) throw new Error(`creating a token for ${tenant}: ${res.status} ${await res.text()}`);
  const created = await res.json<{ token: string; id: string }>();
  return { token: created.token, id: created.id };
}
