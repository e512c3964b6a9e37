// Search on the failures list: q= over job id, error message, reason and the stored (redacted)
// body, field=&value= on one JSON body field; combined with the filters and paged with the cursor.

import { runInDurableObject } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { FailureLedger } from "../../src/failure-ledger";
import { apiFetch } from "../support/api";
import { deliver, envelope, message } from "../support/dlq";
import { failureInput, ledger, uniqueTenant } from "../support/failures";
import { pagesOf } from "../support/pages";

const tenant = uniqueTenant("search");
const base = Date.now() - 3600_000;
const at = (i: number) => new Date(base + i * 1000).toISOString();

async function search(query: Record<string, string>): Promise<{ status: number; body: any }> {
  const res = await apiFetch(`/api/queue/dlq/failures?${new URLSearchParams({ tenant, ...query })}`);
  return { status: res.status, body: await res.json() };
}
const ids = (body: { items: { jobId: string }[] }) => body.items.map((i) => i.jobId);

beforeAll(async () => {
  // Through the real consumer, so what is searched is what redaction stored.
  const jobs = [
    { jobId: "order-7781", error: { name: "Error", message: "Payment GATEWAY timed out", status: 504 }, body: { userId: "u-42", amount: 12, vip: true } },
    { jobId: "order-7782", error: { name: "ValidationError", message: "email is invalid", status: 422 }, body: { userId: "u-42", amount: 7 } },
    { jobId: "invoice-1", error: { name: "Error", message: "internal error", status: 500 }, body: { userId: "u-7", customer: { id: "c-9" }, items: [{ sku: "SKU-1" }] } },
    { jobId: "invoice-2", error: { name: "Error", message: "internal error", status: 500 }, body: { userId: "u-8", password: "hunter2-secret", note: "100%_done" } },
  ];
  const { explicitAcks } = await deliver(
    jobs.map((j, i) => message(envelope(tenant, j.jobId, { error: j.error, body: { tenantId: tenant, ...j.body }, lastFailedAt: at(i), enqueuedAt: at(i) }))),
  );
  expect(explicitAcks).toHaveLength(4);
});

describe("GET /api/queue/dlq/failures?q=", () => {
  it("matches the job id, the error message, the reason and the body, ignoring case", async () => {
    expect(ids((await search({ q: "ORDER-778" })).body)).toEqual(["order-7782", "order-7781"]);
    expect(ids((await search({ q: "gateway timed" })).body)).toEqual(["order-7781"]);
    // the classifier's reason for a 422
    expect(ids((await search({ q: "client error" })).body).sort()).toEqual(["order-7782"]);
    expect(ids((await search({ q: "c-9" })).body)).toEqual(["invoice-1"]);
    expect(ids((await search({ q: "nothing like this" })).body)).toEqual([]);
  });

  it("searches the stored copy: a redacted secret is not found, and LIKE's wildcards are literal", async () => {
    expect(ids((await search({ q: "hunter2" })).body)).toEqual([]);
    expect(ids((await search({ q: "[REDACTED]" })).body)).toEqual(["invoice-2"]);
    expect(ids((await search({ q: "100%_done" })).body)).toEqual(["invoice-2"]);
    expect(ids((await search({ q: "100%%done" })).body)).toEqual([]);
    expect(ids((await search({ q: "_" })).body)).toEqual(["invoice-2"]);
  });

  it("combines with the filters", async () => {
    expect(ids((await search({ q: "u-42", class: "USER_ERROR" })).body)).toEqual(["order-7782"]);
    expect(ids((await search({ q: "invoice", status: "abandoned" })).body)).toEqual([]);
  });

  it("pages with the same cursor", async () => {
    const first = await search({ q: "order", limit: "1" });
    expect(ids(first.body)).toEqual(["order-7782"]);
    const second = await search({ q: "order", limit: "1", cursor: first.body.nextCursor });
    expect(ids(second.body)).toEqual(["order-7781"]);
    expect(second.body.nextCursor).toBeNull();
  });
});

describe("GET /api/queue/dlq/failures?field=&value=", () => {
  it("matches one JSON body field exactly, by a dotted path, compared as text", async () => {
    expect(ids((await search({ field: "userId", value: "u-42" })).body)).toEqual(["order-7782", "order-7781"]);
    expect(ids((await search({ field: "userId", value: "U-42" })).body)).toEqual([]);
    expect(ids((await search({ field: "userId", value: "u-4" })).body)).toEqual([]);
    expect(ids((await search({ field: "customer.id", value: "c-9" })).body)).toEqual(["invoice-1"]);
    expect(ids((await search({ field: "items[0].sku", value: "SKU-1" })).body)).toEqual(["invoice-1"]);
    expect(ids((await search({ field: "amount", value: "12" })).body)).toEqual(["order-7781"]);
    expect(ids((await search({ field: "vip", value: "true" })).body)).toEqual(["order-7781"]);
    expect(ids((await search({ field: "vip", value: "1" })).body)).toEqual([]);
    expect(ids((await search({ field: "userId", value: "u-42", q: "gateway" })).body)).toEqual(["order-7781"]);
  });

  it.each([
    [{ field: "userId" }, /field and value go together/],
    [{ value: "u-42" }, /field and value go together/],
    [{ field: "a..b", value: "x" }, /dotted path/],
    [{ field: `x"); DROP TABLE failures; --`, value: "x" }, /dotted path/],
    [{ q: "" }, /q/],
    [{ q: "x".repeat(201) }, /q/],
  ])("refuses %j with 400", async (query, message) => {
    const res = await search(query as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(message) });
  });
});

describe("a search of a large ledger", () => {
  it("looks at a bounded window per page and hands back a cursor to go on", async () => {
    const big = uniqueTenant("big");
    // 25 failures, newest first: only the oldest (needle-0) matches.
    await ledger(big).record(
      Array.from({ length: 25 }, (_, i) => failureInput({ jobId: i === 0 ? "needle-0" : `hay-${i}`, lastFailedAt: base + i * 1000 })),
    );
    const pages = await runInDurableObject(ledger(big), (_instance: FailureLedger, state) => pagesOf(state.storage.sql, big, { q: "NEEDLE" }, 5, 10));
    // 10 rows looked at per page: two empty pages with a cursor, then the match.
    expect(pages).toEqual([[], [], ["needle-0"]]);
  });
});
