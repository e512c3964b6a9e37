// Edit and requeue: a replacement body is sent to the origin queue exactly as given, stored
// redacted (its original sealed), recorded with who did it and both bodies' SHA-256, while the
// archive keeps the original. Anything refused changes nothing.

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { unseal } from "../../src/ingest/seal";
import type { FailureLedger } from "../../src/failure-ledger";
import { apiFetch, createToken } from "../support/api";
import { flushAll, ledger, runFlush, servedFailure, uniqueTenant } from "../support/failures";
import { received, recoverable } from "../support/recovery";

async function sha256(text: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function requeue(tenant: string, jobId: string, body: unknown, token?: string) {
  const res = await apiFetch(
    `/api/queue/dlq/failures/${jobId}/requeue?tenant=${tenant}`,
    { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) },
    token,
  );
  return { status: res.status, body: (await res.json()) as any };
}

/** What a refused request must leave as it was: the row, its history, the counters, the queue. */
async function snapshot(tenant: string, jobId: string) {
  const stub = ledger(tenant);
  const row = await runInDurableObject(stub, (_i: FailureLedger, state) => state.storage.sql.exec(`SELECT * FROM failures WHERE job_id = ?`, jobId).one());
  return JSON.stringify({ row, history: await stub.history(jobId), recovery: (await stub.stats()).recovery, received: await received(tenant) });
}

describe("edit and requeue", () => {
  it("sends the replacement as given, stores it redacted and sealed, and records both hashes", async () => {
    const tenant = uniqueTenant("edit");
    const stub = ledger(tenant);
    const original = recoverable(tenant, "fix-me", { class: "USER_ERROR" });
    await stub.record([original]);
    expect(await runFlush(stub)).toBe(true); // archived in R2 before the edit
    const { token } = await createToken(tenant, "pat@example.com");

    const replacement = { tenantId: tenant, jobId: "fix-me", email: "fixed@example.com", password: "hunter2", note: "Bearer abcdefghijklmnop" };
    const res = await requeue(tenant, "fix-me", { body: replacement }, token);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ status: "retrying", bodyEncoding: "json", body: { email: "fixed@example.com", password: "[REDACTED]", note: "Bearer [REDACTED]" } });

    // The origin queue's consumer gets the replacement, secrets and all, exactly as given.
    await vi.waitFor(async () => expect(await received(tenant)).toEqual([replacement]), { timeout: 10_000, interval: 100 });

    const [entry] = await stub.history("fix-me");
    expect(entry).toMatchObject({
      action: "requeue",
      actor: "pat@example.com",
      detail: {
        delaySeconds: 0,
        bodyReplaced: "yes",
        oldBodySha256: await sha256(original.body),
        oldBodyHashOf: "original",
        newBodySha256: await sha256(JSON.stringify(replacement)),
      },
    });

    // Stored redacted; the replacement itself only sealed, so a later retry sends it unchanged.
    const row = await runInDurableObject(stub, (_i: FailureLedger, state) =>
      state.storage.sql.exec<{ body: string; body_redacted: number; sealed_body: string }>(`SELECT body, body_redacted, sealed_body FROM failures WHERE job_id = 'fix-me'`).one(),
    );
    expect(row.body).not.toContain("hunter2");
    expect(row.body_redacted).toBe(1);
    expect(JSON.parse(await unseal(env.RETRY_SEAL_KEY!, row.sealed_body))).toEqual(replacement);

    // The archive keeps the original occurrence.
    const served = await servedFailure(tenant, "fix-me");
    expect(served!.body).toMatchObject({ password: "[REDACTED]" });
    expect(served!.archive.envelope.body).toEqual(JSON.parse(original.body));
  });

  it("archives the body that failed when the edit comes before the flush", async () => {
    const tenant = uniqueTenant("edit-early");
    const stub = ledger(tenant);
    const original = recoverable(tenant, "early", { class: "USER_ERROR" });
    await stub.record([original]);
    const { token } = await createToken(tenant, "pat@example.com");
    const replacement = { tenantId: tenant, jobId: "early", email: "fixed@example.com" };
    expect((await requeue(tenant, "early", { body: replacement }, token)).status).toBe(200);

    await flushAll(stub);
    const served = await servedFailure(tenant, "early");
    expect(served!.body).toEqual(replacement);
    expect(served!.archive.envelope.body).toEqual(JSON.parse(original.body));
  });

  it("takes a text body for a job whose body was not JSON, sent as its bytes", async () => {
    const tenant = uniqueTenant("text");
    const stub = ledger(tenant);
    await stub.record([recoverable(tenant, "raw", { class: "USER_ERROR", body: btoa("old bytes"), bodyEncoding: "base64" })]);
    const res = await requeue(tenant, "raw", { body: "fixed text, token: eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl", bodyEncoding: "text" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.bodyEncoding).toBe("base64");
    expect(atob(res.body.body)).toBe("fixed text, token: [REDACTED]");
    expect((await stub.history("raw"))[0]!.detail).toMatchObject({
      oldBodySha256: await sha256("old bytes"),
      newBodySha256: await sha256("fixed text, token: eyJhbGciOiJI.eyJzdWIiOiIx.c2lnbmF0dXJl"),
    });
  });

  it("refuses what it cannot take with a 4xx in the one error shape, and changes nothing", async () => {
    const tenant = uniqueTenant("refuse");
    await ledger(tenant).record([recoverable(tenant, "keep", { class: "USER_ERROR" })]);
    const { token: reader } = await createToken(tenant, "viewer", "read");
    const before = await snapshot(tenant, "keep");
    const ok = { tenantId: tenant, jobId: "keep" };

    const cases: [unknown, number, string, RegExp][] = [
      [{ body: { ...ok, blob: "x".repeat(128 * 1024) } }, 400, "invalid_request", /at most 131072/],
      [`{"body": "${"x".repeat(300 * 1024)}"}`, 413, "payload_too_large", /at most/],
      [{ body: { ...ok }, bodyEncoding: "xml" }, 400, "invalid_request", /bodyEncoding/],
      [{ body: { ...ok }, bodyEncoding: "text" }, 400, "invalid_request", /text body must be a string/],
      [{ bodyEncoding: "text" }, 400, "invalid_request", /goes with a replacement body/],
      [{ body: ok, extra: 1 }, 400, "invalid_request", /extra/],
      ['{"body": {"tenantId": ', 400, "invalid_json", /JSON/],
      [{ body: { tenantId: tenant, jobId: "someone-else" } }, 409, "conflict", /must keep jobId "keep"/],
      [{ body: "no ids at all", bodyEncoding: "text" }, 409, "conflict", /must keep tenantId/],
    ];
    for (const [body, status, code, message] of cases) {
      const res = await requeue(tenant, "keep", body);
      expect([res.status, res.body.error?.code], JSON.stringify(res.body)).toEqual([status, code]);
      expect(res.body.error.message).toMatch(message);
    }
    const read = await requeue(tenant, "keep", { body: ok }, reader);
    expect([read.status, read.body.error.code]).toEqual([403, "forbidden"]);
    expect(await snapshot(tenant, "keep")).toBe(before);
  });
});
