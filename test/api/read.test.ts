import { runInDurableObject } from "cloudflare:test";
import { listFailures } from "../../src/ledger/store/pages";
import type { FailureLedger } from "../../src/failure-ledger";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import worker from "../../src/index";
import { apiFetch } from "../support/api";
import { failureInput, ledger, uniqueTenant } from "../support/failures";
import { pagesOf } from "../support/pages";
import { withRowsRead } from "../support/rows-read";

const tenant = uniqueTenant("api");
const base = Date.now() - 3600_000;

async function get(path: string) {
  const res = await apiFetch(path);
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
}

beforeAll(async () => {
  await ledger(tenant).record(
    Array.from({ length: 7 }, (_, i) =>
      failureInput({
        jobId: `job-${i}`,
        lastFailedAt: base + i * 1000,
        queue: i % 2 ? "emails" : "jobs",
        class: i < 3 ? "RECOVERABLE" : "USER_ERROR",
        fingerprint: i < 3 ? "aaaaaaaaaaaaaaaa" : "bbbbbbbbbbbbbbbb",
      }),
    ),
  );
});

describe("GET /api/queue/dlq/stats", () => {
  it("serves the tenant's live counters with every class present", async () => {
    const { status, body } = await get(`/api/queue/dlq/stats?tenant=${tenant}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      tenant,
      total: 7,
      last24h: 7,
      byClass: { RECOVERABLE: 3, USER_ERROR: 4, SYSTEM_ERROR: 0, UNKNOWN: 0 },
      byQueue: { jobs: 4, emails: 3 },
      byStatus: { open: 7 },
      avgAttempts: 4,
      recoveryQueueSize: 7,
      groups: 2,
      evicted: 0,
    });
  });

  it("answers an unknown tenant with zeros, not an error", async () => {
    const { status, body } = await get(`/api/queue/dlq/stats?tenant=${uniqueTenant("empty")}`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ total: 0, last24h: 0, byClass: { RECOVERABLE: 0, USER_ERROR: 0, SYSTEM_ERROR: 0, UNKNOWN: 0 } });
  });
});

describe("GET /api/queue/dlq/failures", () => {
  it("pages newest first with an opaque cursor until the end", async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const { status, body }: { status: number; body: any } = await get(
        `/api/queue/dlq/failures?tenant=${tenant}&limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(status).toBe(200);
      seen.push(...body.items.map((i: { jobId: string }) => i.jobId));
      cursor = body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toEqual(["job-6", "job-5", "job-4", "job-3", "job-2", "job-1", "job-0"]);
  });

  it("returns the documented item shape", async () => {
    const { body } = await get(`/api/queue/dlq/failures?tenant=${tenant}&limit=1`);
    expect(Object.keys(body.items[0]).sort()).toEqual(
      ["attempts", "class", "error", "firstFailedAt", "group", "jobId", "lastFailedAt", "occurrences", "queue", "reason", "recovery", "status", "tenantId", "userId"].sort(),
    );
    expect(body.items[0]).toMatchObject({ tenantId: tenant, jobId: "job-6", lastFailedAt: new Date(base + 6000).toISOString() });
  });

  it.each([
    ["class=RECOVERABLE", ["job-2", "job-1", "job-0"]],
    ["queue=emails", ["job-5", "job-3", "job-1"]],
    ["group=bbbbbbbbbbbbbbbb&queue=jobs", ["job-6", "job-4"]],
    ["status=abandoned", []],
  ])("filters by %s", async (filter, expected) => {
    const { status, body } = await get(`/api/queue/dlq/failures?tenant=${tenant}&${filter}`);
    expect(status).toBe(200);
    expect(body.items.map((i: { jobId: string }) => i.jobId)).toEqual(expected);
    expect(body.nextCursor).toBeNull();
  });

  it("serves one failure with its body, and 404 for one that does not exist", async () => {
    const one = await get(`/api/queue/dlq/failures/job-4?tenant=${tenant}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ jobId: "job-4", bodyEncoding: "json", body: { jobId: expect.any(String) } });

    const missing = await get(`/api/queue/dlq/failures/nope?tenant=${tenant}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ error: { code: "not_found", message: 'no failure with jobId "nope" in this tenant' } });
  });
});

describe("GET /api/queue/dlq/groups", () => {
  it("lists groups, most recently seen first", async () => {
    const { body } = await get(`/api/queue/dlq/groups?tenant=${tenant}`);
    expect(body.items.map((g: { fingerprint: string; count: number }) => [g.fingerprint, g.count])).toEqual([
      ["bbbbbbbbbbbbbbbb", 4],
      ["aaaaaaaaaaaaaaaa", 3],
    ]);
  });
});

describe("bad requests get one error shape", () => {
  it.each([
    ["/api/queue/dlq/failures", 400, "invalid_request"],
    ["/api/queue/dlq/stats?tenant=../x", 400, "invalid_request"],
    ["/api/queue/dlq/stats?tenant=a&tenant=b", 400, "invalid_request"],
    ["/api/queue/dlq/stats?tenant=a&extra=1", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&limit=0", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&limit=501", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&limit=ten", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&class=FATAL", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&status=done", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&group=xyz", 400, "invalid_request"],
    ["/api/queue/dlq/failures?tenant=a&cursor=not-a-cursor", 400, "invalid_request"],
    ["/api/queue/dlq/failures/%E0%A4%A?tenant=a", 400, "invalid_request"],
    ["/api/nothing-here", 404, "not_found"],
  ])("GET %s → %i %s", async (path, status, code) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.body.error.code).toBe(code);
    expect(typeof res.body.error.message).toBe("string");
    expect(Object.keys(res.body)).toEqual(["error"]);
  });

  it("answers a wrong method with 405 and Allow", async () => {
    const res = await apiFetch(`/api/queue/dlq/stats?tenant=${tenant}`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
    expect(((await res.json()) as any).error.code).toBe("method_not_allowed");
  });

  it("hides the /dev routes outside local development", async () => {
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("http://local/dev/jobs", { method: "POST", body: JSON.stringify({ tenantId: "t", fail: "none" }) }),
      { ...env, DEV_ROUTES: "false" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(404);
  });
});

describe("GET /health", () => {
  it("is up", async () => {
    expect(await get("/health")).toMatchObject({ status: 200, body: { ok: true } });
  });
});

describe("filtered pages on a large ledger", () => {
  it("look at a bounded number of failures per page and hand back a cursor to go on", async () => {
    const big = uniqueTenant("big");
    const stub = ledger(big);
    const rare = new Set([3, 17, 25]);
    await stub.record(
      Array.from({ length: 30 }, (_, i) =>
        failureInput({ jobId: `b${String(i).padStart(2, "0")}`, lastFailedAt: base + i * 1000, queue: rare.has(i) ? "rare" : "jobs" }),
      ),
    );
    // A budget of 10 rows a page: the rare queue (no order list) is found page by page, nothing skipped or repeated.
    const pages = await runInDurableObject(stub, (_instance: FailureLedger, state) => pagesOf(state.storage.sql, big, { queue: "rare" }, 5, 10));
    expect(pages).toEqual([["b25"], ["b17"], ["b03"]]);
  });
});

describe("a filter nothing can match", () => {
  it("is answered from the counters without reading the failures, and finds a failure once one matches", async () => {
    const t = uniqueTenant("nomatch");
    const stub = ledger(t);
    await stub.record(Array.from({ length: 200 }, (_, i) => failureInput({ lastFailedAt: base + i * 1000, class: "USER_ERROR" })));
    const filters = [{ status: "abandoned" as const }, { class: "UNKNOWN" as const }, { queue: "no-such-queue" }, { group: "ffffffffffffffff" }];
    await runInDurableObject(stub, async (_instance: FailureLedger, state) => {
      for (const filter of filters) {
        const { result, rowsRead } = await withRowsRead(state.storage.sql, () => listFailures(state.storage.sql, t, { ...filter, limit: 50 }));
        expect(result).toEqual({ items: [], next: null });
        // a counter or the group: not the 200 failures a scan would read
        expect(rowsRead).toBeLessThanOrEqual(2);
      }
    });
    const abandoned = await stub.listFailures({ limit: 50 }).then((p) => p.items[0]!.jobId);
    await stub.abandon(abandoned, "test", "no longer needed");
    expect((await stub.listFailures({ status: "abandoned", limit: 50 })).items.map((i) => i.jobId)).toEqual([abandoned]);
  });
});

describe("a filter by a rare group, class or status", () => {
  it("reads its page from the order list: complete, newest first, stale entries skipped", async () => {
    const t = uniqueTenant("rare");
    const stub = ledger(t);
    const rareGroup = "aaaaaaaaaaaaaaaa";
    const rare = new Set([40, 90, 150, 260]);
    for (let b = 0; b < 3; b++) {
      await stub.record(
        Array.from({ length: 100 }, (_, j) => {
          const i = b * 100 + j;
          return rare.has(i)
            ? failureInput({ jobId: `r${i}`, lastFailedAt: base + i * 1000, class: "SYSTEM_ERROR", fingerprint: rareGroup })
            : failureInput({ jobId: `c${i}`, lastFailedAt: base + i * 1000, class: "USER_ERROR", fingerprint: "bbbbbbbbbbbbbbbb" });
        }),
      );
    }
    // r90 fails again, later, in the common group and class: its rare entries are stale now
    await stub.record([failureInput({ jobId: "r90", lastFailedAt: base + 400_000, class: "USER_ERROR", fingerprint: "bbbbbbbbbbbbbbbb" })]);
    await stub.abandon("r150", "test", "not needed");

    const expected = { group: ["r260", "r150", "r40"], class: ["r260", "r150", "r40"], status: ["r150"] };
    const filters = { group: { group: rareGroup }, class: { class: "SYSTEM_ERROR" as const }, status: { status: "abandoned" as const } };
    await runInDurableObject(stub, async (_instance: FailureLedger, state) => {
      const sql = state.storage.sql;
      for (const [name, filter] of Object.entries(filters)) {
        const found: string[] = [];
        let after: { lastFailedAt: number; jobId: string } | undefined;
        let pages = 0;
        do {
          const { result, rowsRead } = await withRowsRead(sql, () => listFailures(sql, t, { ...filter, limit: 2, after }));
          // the list's rows and its few failures, not the 300 a scan of the window would read
          expect(rowsRead).toBeLessThan(40);
          found.push(...result.items.map((i) => i.jobId));
          after = result.next ?? undefined;
          pages++;
        } while (after);
        expect(found, name).toEqual(expected[name as keyof typeof expected]);
        expect(pages, name).toBe(Math.max(1, Math.ceil(found.length / 2)));
      }
    });
  });
});
