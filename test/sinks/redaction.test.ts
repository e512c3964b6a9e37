import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { REDACTED, createRedactor } from "../../src/ingest/redact";
import { QUARANTINE_TENANT } from "../../src/model";
import { deliver, envelope, message } from "../support/dlq";
import { ledger, runFlush, uniqueTenant } from "../support/failures";

const SECRETS = ["hunter2-pw", "abc123def456ghi789", "4242 4242 4242 4242", "sk_live_51HxYzSecret", "session-cookie-value", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz", "parked-pw-123"];

describe("redaction", () => {
  it("replaces sensitive keys and token-like strings, and nothing else", () => {
    const redact = createRedactor(["x-internal"]);
    expect(
      redact.value({
        user: "ana",
        password: "p",
        headers: { Authorization: "Bearer abcdefghijk", "X-Internal": "v", accept: "json" },
        apiKey: { nested: true },
        note: "paid with 4242-4242-4242-4242, order 1234567890123",
        ["__proto__"]: { polluted: true },
      }),
    ).toEqual({
      user: "ana",
      password: REDACTED,
      headers: { Authorization: REDACTED, "X-Internal": REDACTED, accept: "json" },
      apiKey: REDACTED,
      note: `paid with ${REDACTED}, order 1234567890123`,
      ["__proto__"]: { polluted: true },
    });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    // Nothing to redact: the value itself comes back; something to redact: a copy, the original untouched.
    const clean = { user: "ana", tags: ["a", { n: 1 }], nested: { ok: true } };
    expect(redact.value(clean)).toBe(clean);
    const dirty = { user: "ana", deep: [{ keep: 1 }, { token: "t" }], other: { ok: true } };
    const copy = redact.value(dirty) as typeof dirty;
    expect(copy).toEqual({ user: "ana", deep: [{ keep: 1 }, { token: REDACTED }], other: { ok: true } });
    expect(dirty.deep[1]).toEqual({ token: "t" });
    expect(copy.other).toBe(dirty.other);
    expect(redact.text("401 for Bearer abc.def-ghi_jkl")).toBe(`401 for Bearer ${REDACTED}`);
  });

  it("leaves no secret in the ledger, D1 or R2", async () => {
    const tenant = uniqueTenant();
    await deliver([
      message(
        envelope(tenant, "j-secret", {
          body: {
            tenantId: tenant,
            jobId: "j-secret",
            password: "hunter2-pw",
            headers: { authorization: "Bearer abc123def456ghi789", Cookie: "session-cookie-value" },
            card: "4242 4242 4242 4242",
            config: { stripe_api_key: "sk_live_51HxYzSecret" },
          },
          error: {
            name: "AuthError",
            message: "rejected token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlMTIz",
            stack: "AuthError: Bearer abc123def456ghi789\n    at handler (worker.js:1:1)",
            status: 401,
          },
        }),
      ),
      message({ tenantId: tenant, jobId: "raw-secret", password: "hunter2-pw" }),
      message(`not json, but Bearer abc123def456ghi789 inside`),
    ]);
    await deliver([message({ password: "parked-pw-123", tenantId: tenant })], "jobs-dlq-parking");
    await runFlush(ledger(tenant));
    await runFlush(ledger(QUARANTINE_TENANT));

    const stored: string[] = [];
    for (const name of [tenant, QUARANTINE_TENANT]) {
      await runInDurableObject(ledger(name), (_i, state) => {
        const tables = state.storage.sql
          .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%'`)
          .toArray();
        for (const { name: table } of tables) stored.push(JSON.stringify(state.storage.sql.exec(`SELECT * FROM ${table}`).toArray()));
      });
    }
    for (const db of [env.DB, env.DB_2]) {
      const d1Tables = await db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_%'`).all<{ name: string }>();
      for (const { name } of d1Tables.results) stored.push(JSON.stringify((await db.prepare(`SELECT * FROM ${name}`).all()).results));
    }
    const objects = (await env.ARCHIVE.list()).objects;
    expect(objects.some((o) => o.key.startsWith(`${tenant}/`))).toBe(true);
    expect(objects.some((o) => o.key.startsWith("_parking/"))).toBe(true);
    for (const object of objects) stored.push(await (await env.ARCHIVE.get(object.key))!.text());

    const everything = stored.join("\n");
    expect(everything).toContain("j-secret");
    expect(everything).toContain(REDACTED);
    for (const secret of SECRETS) expect(everything, `found ${secret}`).not.toContain(secret);
  });
});
