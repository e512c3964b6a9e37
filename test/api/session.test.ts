import { describe, expect, it } from "vitest";
import { apiFetch, createToken } from "../support/api";
import { uniqueTenant } from "../support/failures";

describe("GET /api/session", () => {
  it("says who the admin token is", async () => {
    const res = await apiFetch("/api/session");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ kind: "admin", tenant: null, label: "admin", scope: "admin" });
  });

  it("says which tenant a tenant token is bound to", async () => {
    const tenant = uniqueTenant("who");
    const { token } = await createToken(tenant, "oncall");
    const res = await apiFetch("/api/session", {}, token);
    expect(await res.json()).toEqual({ kind: "tenant", tenant, label: "oncall", scope: "operate" });
  });

  it("refuses a wrong token in the one error shape", async () => {
    const res = await apiFetch("/api/session", {}, "dlq_not-a-token");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "unauthorized" } });
  });
});
