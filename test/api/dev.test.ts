// POST /dev/jobs is the example worker's producer route on this address: forwarded over the
// JOBS_WORKER service binding (here to the receiver, which records it and answers as scripted).

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { requestsTo, script } from "../support/notify";

const post = (body: string, environment: Env = env) => {
  const ctx = createExecutionContext();
  return worker
    .fetch(new Request("http://local/dev/jobs", { method: "POST", headers: { "content-type": "application/json" }, body }), environment, ctx)
    .then(async (res) => {
      await waitOnExecutionContext(ctx);
      return { status: res.status, headers: res.headers, body: (await res.json()) as any };
    });
};

describe("POST /dev/jobs", () => {
  it("forwards the body unchanged to the example worker's POST /jobs and passes its answer on", async () => {
    const answer = { enqueued: 2, queue: "jobs", jobIds: ["fwd-1", "fwd-2"] };
    await script("jobs-worker", [{ status: 202, json: answer }]);
    const body = JSON.stringify({ tenantId: "acme", jobId: "fwd", count: 2, fail: "none" });
    const res = await post(body);
    expect(res).toMatchObject({ status: 202, body: answer });
    const [forwarded] = (await requestsTo("jobs-worker")).filter((r) => r.body === body);
    expect(forwarded).toMatchObject({ method: "POST", path: "/jobs", headers: { "content-type": "application/json" } });
  });

  it("answers the example worker's refusals in the one error shape, Retry-After included", async () => {
    await script("jobs-worker", [
      { status: 400, json: { error: { code: "invalid_request", message: "fail: Invalid input", details: [{ path: "fail", message: "Invalid input" }] } } },
      { status: 503, retryAfter: 1, json: { error: { code: "send_failed", message: "the queue `jobs` refused the send", details: { enqueued: [] } } } },
      { status: 500 },
    ]);
    const invalid = await post(JSON.stringify({ tenantId: "acme", fail: "explode" }));
    expect(invalid).toMatchObject({ status: 400, body: { error: { code: "invalid_request", details: [{ path: "fail" }] } } });
    const refused = await post(JSON.stringify({ tenantId: "acme", fail: "none" }));
    expect(refused).toMatchObject({ status: 503, body: { error: { code: "send_failed", details: { enqueued: [] } } } });
    expect(refused.headers.get("retry-after")).toBe("1");
    const broken = await post(JSON.stringify({ tenantId: "acme", fail: "none" }));
    expect(broken).toMatchObject({ status: 503, body: { error: { code: "unavailable", message: expect.stringContaining("answered 500") } } });
  });

  it("says how to start the example worker when it is not bound", async () => {
    const { JOBS_WORKER: _unbound, ...alone } = env;
    const res = await post(JSON.stringify({ tenantId: "acme", fail: "none" }), alone as Env);
    expect(res).toMatchObject({ status: 503, body: { error: { code: "unavailable", message: expect.stringContaining("npm start") } } });
  });
});
