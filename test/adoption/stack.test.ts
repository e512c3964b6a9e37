// Both workers as they run under `npm start`: the example worker (a user's worker) produces and
// consumes `jobs` through the packaged capture helper; dlq-ledger ingests what dead-letters,
// retries it back to `jobs`, and hears of the success over its DlqLedgerService entrypoint.
// Everything through HTTP on the one address, with short delays.

import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startWorker, type RunningWorker } from "../cli/harness";

const ADMIN = `e2e-admin-${Math.random().toString(36).slice(2)}`;
const TENANT = "adopter";
let stack: RunningWorker;

const api = async (path: string) => {
  const res = await fetch(`${stack.url}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  return { status: res.status, body: (await res.json()) as any };
};

/** POST /dev/jobs: the example worker's producer route, served on dlq-ledger's address. */
const enqueue = async (job: Record<string, unknown>) => {
  const res = await fetch(`${stack.url}/dev/jobs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(job) });
  return { status: res.status, body: (await res.json()) as any };
};

const failure = (jobId: string) => api(`/api/queue/dlq/failures/${jobId}?tenant=${TENANT}`);

beforeAll(async () => {
  stack = await startWorker({
    migrate: true,
    vars: { DEV_ROUTES: "true", ADMIN_TOKEN: ADMIN, RETRY_SEAL_KEY: "e2e-seal", FLUSH_DELAY_SECONDS: "1", RECOVERY_BASE_SECONDS: "1", RECOVERY_CAP_SECONDS: "2" },
  });
});

afterAll(async () => {
  await stack?.stop();
});

describe("the example worker and dlq-ledger, one local session", () => {
  // Slow by nature: the example's queue runs 4 attempts with 1 + 2 + 4 s of backoff first.
  it("drives a job from the producer to a recovered failure in the ledger", { timeout: 90_000 }, async () => {
    const sent = await enqueue({ tenantId: TENANT, jobId: "e2e-flaky", userId: "u-7", fail: { message: "upstream timed out", status: 503, code: "E_UP" }, succeedAfter: 4 });
    expect(sent).toEqual({ status: 202, body: { enqueued: 1, queue: "jobs", jobIds: ["e2e-flaky"] } });

    const recovered = await vi.waitFor(
      async () => {
        const { status, body } = await failure("e2e-flaky");
        if (status !== 200 || body.status !== "recovered") throw new Error(`not recovered yet: ${status} ${body.status ?? body.error?.code}`);
        return body;
      },
      { timeout: 80_000, interval: 250 },
    );
    // The envelope came from the packaged helper in the other worker: error, status and code kept.
    expect(recovered).toMatchObject({
      tenantId: TENANT,
      userId: "u-7",
      queue: "jobs",
      class: "RECOVERABLE",
      attempts: 4,
      error: { name: "Error", message: "upstream timed out", status: 503, code: "E_UP" },
    });
    // Version 2 says when the job was enqueued: the ledger's first failure is before the last.
    expect(Date.parse(recovered.firstFailedAt)).toBeLessThan(Date.parse(recovered.lastFailedAt));
    const history = await api(`/api/queue/dlq/failures/e2e-flaky/history?tenant=${TENANT}`);
    expect(history.body.items[0]).toMatchObject({ action: "recovered", actor: "capture-helper" });
  });

  it("a crash in the example worker is dead-lettered by the platform, raw, and still recorded", { timeout: 90_000 }, async () => {
    expect((await enqueue({ tenantId: TENANT, jobId: "e2e-crash", fail: "crash" })).status).toBe(202);
    const crash = await vi.waitFor(
      async () => {
        const { status, body } = await failure("e2e-crash");
        if (status !== 200) throw new Error(`not recorded yet: ${status}`);
        return body;
      },
      { timeout: 80_000, interval: 250 },
    );
    expect(crash).toMatchObject({ class: "UNKNOWN", reason: "no error context", error: null, queue: "jobs" });
  });

  it("answers the example worker's validation error in the one error shape", async () => {
    const res = await enqueue({ tenantId: TENANT, fail: "explode" });
    expect(res).toMatchObject({ status: 400, body: { error: { code: "invalid_request", details: [{ path: "fail" }] } } });
  });
});
