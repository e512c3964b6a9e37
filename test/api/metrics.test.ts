// The admin's views across tenants: Prometheus metrics from each ledger, and stats from D1.

import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { listTenants } from "../../src/api/endpoints/metrics";
import { apiFetch, createToken } from "../support/api";
import { failureInput, ledger, runFlush, uniqueTenant } from "../support/failures";

const A = uniqueTenant("ma");
const B = uniqueTenant("mb");
const TOKEN_ONLY = uniqueTenant("mc");

beforeAll(async () => {
  await ledger(A).record([
    failureInput({ jobId: "a1", class: "USER_ERROR" }),
    failureInput({ jobId: "a2", class: "USER_ERROR" }),
    failureInput({ jobId: "a3", class: "SYSTEM_ERROR" }),
  ]);
  await ledger(B).record([failureInput({ jobId: "b1", class: "RECOVERABLE", queue: "no-origin" })]);
  // Flushed to D1, which the cross-tenant views read.
  for (const t of [A, B]) {
    expect(await runFlush(ledger(t))).toBe(true);
  }
  await createToken(TOKEN_ONLY, "watcher");
});

/** Prometheus text: sample lines as { name, labels, value }, and the HELP/TYPE of each family. */
function parse(text: string) {
  const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
  const types = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (meta) {
      if (meta[1] === "TYPE") types.set(meta[2]!, meta[3]!);
      continue;
    }
    const m = /^(\w+)(?:\{(.*)\})? (-?[\d.e+-]+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    if (!types.has(m[1]!)) throw new Error(`sample before its # TYPE: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, types };
}

describe("GET /metrics", () => {
  it("exposes each tenant's counters in the Prometheus text format", async () => {
    const res = await apiFetch("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const { samples, types } = parse(await res.text());
    const value = (name: string, labels: Record<string, string>) =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

    expect(value("dlq_failures_recorded_total", { tenant: A })).toBe(3);
    expect(value("dlq_failures_by_class", { tenant: A, class: "USER_ERROR" })).toBe(2);
    expect(value("dlq_failures_by_class", { tenant: A, class: "SYSTEM_ERROR" })).toBe(1);
    expect(value("dlq_failures_by_class", { tenant: B, class: "RECOVERABLE" })).toBe(1);
    expect(value("dlq_failures_by_status", { tenant: A, status: "open" })).toBe(3);
    expect(value("dlq_outbox_pending_rows", { tenant: A })).toBe(0);
    expect(value("dlq_retries_sent_total", { tenant: B })).toBe(0);
    expect(value("dlq_recovered_total", { tenant: A })).toBe(0);
    // A tenant known only by its token is reported (with zeros).
    expect(value("dlq_failures_recorded_total", { tenant: TOKEN_ONLY })).toBe(0);
    expect(value("dlq_ledger_up", { tenant: A })).toBe(1);
    expect(value("dlq_metrics_tenants_truncated", {})).toBe(0);
    expect(types.get("dlq_failures_recorded_total")).toBe("counter");
    expect(types.get("dlq_failures_by_status")).toBe("gauge");

    // Notifications are reported when the ledger counts them, and left out when it does not.
    const stats = (await ledger(A).stats()) as { notifications?: { sent: number; suppressed: number } };
    expect(value("dlq_notifications_sent_total", { tenant: A })).toBe(stats.notifications?.sent);
    expect(value("dlq_notifications_suppressed_total", { tenant: A })).toBe(stats.notifications?.suppressed);
  });

  it("bounds the tenants it asks", async () => {
    const listed = await listTenants(env, 2);
    expect(listed.tenants).toHaveLength(2);
    expect(listed.truncated).toBe(true);
    const all = await listTenants(env, 100);
    expect(all.tenants).toEqual([A, B, TOKEN_ONLY].sort());
    expect(all.truncated).toBe(false);
  });

  it("is for the admin only", async () => {
    expect((await apiFetch("/metrics", {}, null)).status).toBe(401);
    const { token } = await createToken(A, "peek");
    expect((await apiFetch("/metrics", {}, token)).status).toBe(403);
  });
});

describe("GET /api/queue/dlq/stats across tenants", () => {
  it("gives the admin totals by tenant, class and status from D1", async () => {
    const res = await apiFetch("/api/queue/dlq/stats");
    expect(res.status).toBe(200);
    const body = await res.json<any>();
    expect(body).toMatchObject({
      scope: "all",
      source: "d1",
      total: 4,
      tenantCount: 2,
      byClass: { USER_ERROR: 2, SYSTEM_ERROR: 1, RECOVERABLE: 1, UNKNOWN: 0 },
      byStatus: { open: 4, retrying: 0 },
    });
    expect(body.tenants).toEqual([
      expect.objectContaining({ tenant: A, total: 3, byClass: expect.objectContaining({ USER_ERROR: 2, SYSTEM_ERROR: 1 }) }),
      expect.objectContaining({ tenant: B, total: 1, byStatus: expect.objectContaining({ open: 1 }) }),
    ]);
    expect((await (await apiFetch("/api/queue/dlq/stats?limit=1")).json<any>()).tenants).toHaveLength(1);
  });

  it("gives a tenant token its own live stats instead", async () => {
    const { token } = await createToken(B, "bee");
    const body = await (await apiFetch("/api/queue/dlq/stats", {}, token)).json<any>();
    expect(body).toMatchObject({ tenant: B, total: 1 });
    expect(body.scope).toBeUndefined();
    expect((await apiFetch("/api/queue/dlq/stats?limit=5", {}, token)).status).toBe(400);
  });
});
