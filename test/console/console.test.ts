// The operator console in a real headless Chromium, against the worker run by `wrangler dev`
// (which builds the console first, as `npm start` does). Screenshots of every page land in
// test-results/console/; the path is printed at the end.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startWorker, type RunningWorker } from "../cli/harness";
import { SHOTS, launch, openPage, signIn, type Watched } from "./browser";

const ADMIN = "console-admin-token";
let worker: RunningWorker;
let browser: Browser;
let admin: Watched;

async function call<T>(path: string, init: { method?: string; body?: unknown; token?: string } = {}): Promise<T> {
  const response = await fetch(worker.url + path, {
    method: init.method ?? "GET",
    headers: { authorization: `Bearer ${init.token ?? ADMIN}`, ...(init.body === undefined ? {} : { "content-type": "application/json" }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A failure as the capture helper reports it, put straight on the dead-letter queue. */
async function fail(tenantId: string, jobId: string, status: number, message: string): Promise<void> {
  const at = new Date().toISOString();
  const envelope = { v: 1, tenantId, jobId, queue: "jobs", body: { tenantId, jobId, chart: 7 }, error: { name: "Error", message, status }, attempts: 4, firstFailedAt: at, lastFailedAt: at };
  const response = await fetch(`${worker.url}/dev/dlq`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(envelope) });
  expect(response.status).toBe(202);
}

type TenantStats = { total: number; last24h: number; byClass: Record<string, number>; groups: number };
type CrossTenant = { total: number; tenants: { tenant: string; total: number }[] };
type Page = { items: { jobId: string; status: string; class: string }[] };

async function until<T>(what: string, probe: () => Promise<T | undefined>, deadline = Date.now() + 60_000): Promise<T> {
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

beforeAll(async () => {
  [worker, browser] = await Promise.all([
    startWorker({ migrate: true, vars: { DEV_ROUTES: "true", ADMIN_TOKEN: ADMIN, FLUSH_DELAY_SECONDS: "1", RECOVERY_BASE_SECONDS: "3600" } }),
    launch(),
  ]);
  for (let i = 1; i <= 3; i++) await fail("acme", `acme-user-${i}`, 404, `chart ${i} not found`);
  for (let i = 1; i <= 2; i++) await fail("acme", `acme-db-${i}`, 500, "database is locked");
  for (let i = 1; i <= 2; i++) await fail("globex", `globex-${i}`, 422, "invalid invoice");
  // The admin's overview counts from D1: wait until everything has been flushed there.
  await until("the flush to D1", async () => ((await call<CrossTenant>("/api/queue/dlq/stats")).total === 7 ? true : undefined));
  admin = await openPage(browser);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  console.log(`console screenshots: ${SHOTS}`);
});

describe("the operator console", () => {
  it("serves the page with its security headers, at the root and at a deep link", async () => {
    for (const path of ["/console/", "/console/tenants/acme/failures?class=USER_ERROR"]) {
      const response = await fetch(worker.url + path);
      expect(response.status, path).toBe(200);
      expect(await response.text()).toContain('<div id="app">');
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain("unsafe-inline");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    }
    expect((await fetch(`${worker.url}/console/missing.js`)).status).toBe(404);
  });

  it("signs the admin in to the tenants overview, whose numbers are the API's", async () => {
    const { page, shot } = admin;
    await signIn(page, worker.url, ADMIN);
    const table = page.getByRole("table", { name: "Tenants" });
    await table.waitFor();
    const api = await call<CrossTenant>("/api/queue/dlq/stats");
    for (const t of api.tenants) {
      const row = table.getByRole("row").filter({ has: page.getByRole("rowheader", { name: t.tenant, exact: true }) });
      await expect.poll(() => row.getByRole("cell").first().textContent()).toBe(String(t.total));
    }
    expect(page.url()).not.toContain(ADMIN);
    expect(await page.evaluate("localStorage.length")).toBe(0);
    await shot("01-tenants");
  });

  it("shows a tenant's live counters, the same as its stats", async () => {
    const { page, shot } = admin;
    await page.getByRole("link", { name: "acme", exact: true }).click();
    await page.waitForURL(/\/console\/tenants\/acme$/);
    const stats = await call<TenantStats>("/api/queue/dlq/stats?tenant=acme");
    const card = (label: string) => page.locator(".card").filter({ hasText: label }).locator(".card-value");
    await expect.poll(() => card("Failures").textContent()).toBe(String(stats.total));
    expect(await card("Last 24 h").textContent()).toBe(String(stats.last24h));
    expect(await card("Groups").textContent()).toBe(String(stats.groups));
    await shot("02-tenant-overview");
  });

  it("lists failures newest first and inserts a new one without a reload", async () => {
    const { page, shot } = admin;
    await page.getByRole("link", { name: "Failures" }).click();
    const table = page.getByRole("table", { name: "Failures" });
    await table.waitFor();
    const api = await call<Page>("/api/queue/dlq/failures?tenant=acme");
    const shown = await table.locator("tbody th[scope=row]").allTextContents();
    expect(shown).toEqual(api.items.map((f) => f.jobId));
    await page.getByRole("status", { name: "Live updates: live" }).waitFor();
    const navigations: string[] = [];
    page.on("framenavigated", (frame) => frame === page.mainFrame() && navigations.push(frame.url()));
    await fail("acme", "acme-late-1", 503, "upstream timed out");
    await table.getByRole("link", { name: "acme-late-1" }).waitFor({ timeout: 30_000 });
    expect(navigations).toEqual([]);
    expect(await table.locator("tbody th[scope=row]").first().textContent()).toBe("acme-late-1");
    await shot("03-failures");
  });

  it("filters into the URL, and the URL opens the same view in a new tab", async () => {
    const { page, shot } = admin;
    await page.getByLabel("Class").selectOption("USER_ERROR");
    await page.waitForURL(/class=USER_ERROR/);
    const table = page.getByRole("table", { name: "Failures" });
    const api = await call<Page>("/api/queue/dlq/failures?tenant=acme&class=USER_ERROR");
    await expect.poll(() => table.locator("tbody th[scope=row]").allTextContents()).toEqual(api.items.map((f) => f.jobId));
    const link = page.url();
    const tab = await openPage(browser);
    await signIn(tab.page, "", ADMIN, link);
    await expect.poll(() => tab.page.getByRole("table", { name: "Failures" }).locator("tbody th[scope=row]").allTextContents()).toEqual(api.items.map((f) => f.jobId));
    expect(await tab.page.getByLabel("Class").inputValue()).toBe("USER_ERROR");
    await tab.context.close();
    await shot("04-failures-filtered");
  });

  it("opens a failure, requeues it and shows the history entry", async () => {
    const { page, shot } = admin;
    await page.getByRole("link", { name: "acme-user-1", exact: true }).click();
    await page.getByRole("heading", { name: /acme-user-1/ }).waitFor();
    expect(await page.getByLabel("Stack trace").count()).toBe(0);
    expect(await page.getByLabel("Body").textContent()).toContain('"chart": 7');
    await page.getByRole("button", { name: "Requeue", exact: true }).click();
    await page.getByRole("status").filter({ hasText: "Sent back" }).waitFor();
    const history = page.getByLabel("History");
    await history.getByText("requeued by admin").waitFor();
    const api = await call<{ items: { action: string; actor: string }[] }>("/api/queue/dlq/failures/acme-user-1/history?tenant=acme");
    expect(api.items[0]).toMatchObject({ action: "requeue", actor: "admin" });
    await shot("05-failure-detail");
  });

  it("abandons everything a filter matches after showing the dry-run count", async () => {
    const { page, shot } = admin;
    await page.goto(`${worker.url}/console/tenants/acme/failures?class=SYSTEM_ERROR`);
    const table = page.getByRole("table", { name: "Failures" });
    await table.waitFor();
    await page.getByRole("button", { name: "Abandon all matching" }).click();
    const dialog = page.getByRole("dialog", { name: "Abandon all matching" });
    await dialog.getByTestId("bulk-count").waitFor();
    expect(await dialog.getByTestId("bulk-count").textContent()).toContain("2 failures");
    await shot("06-bulk-preview");
    await dialog.getByLabel(/Reason/).fill("database migrated; these jobs are obsolete");
    await dialog.getByRole("button", { name: "Abandon 2" }).click();
    await dialog.getByTestId("bulk-progress").filter({ hasText: "finished" }).waitFor({ timeout: 30_000 });
    expect(await dialog.getByTestId("bulk-progress").textContent()).toContain("2 of 2 processed: 2 done, 0 failed");
    await shot("07-bulk-done");
    await dialog.getByRole("button", { name: "Close" }).click();
    const api = await call<Page>("/api/queue/dlq/failures?tenant=acme&class=SYSTEM_ERROR");
    expect(api.items.map((f) => f.status)).toEqual(["abandoned", "abandoned"]);
    await expect.poll(() => table.locator("tbody .badge.status-abandoned").count()).toBe(2);
  });

  it("takes a tenant token straight to its tenant, and signing out forgets it", async () => {
    const created = await call<{ token: string }>("/api/admin/tokens", { method: "POST", body: { tenant: "globex", label: "globex-oncall" } });
    const tab = await openPage(browser, { colorScheme: "dark" });
    await signIn(tab.page, worker.url, created.token);
    await tab.page.waitForURL(/\/console\/tenants\/globex$/);
    await tab.page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(await tab.page.getByRole("link", { name: "Tokens" }).count()).toBe(0);
    await tab.shot("08-tenant-token-dark");
    await tab.page.getByRole("button", { name: "Sign out" }).click();
    await tab.page.getByLabel("Token").waitFor();
    expect(await tab.page.evaluate("sessionStorage.length + localStorage.length")).toBe(0);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it("made no request outside the worker's origin and logged no errors", () => {
    const origin = new URL(worker.url).origin;
    expect(admin.requests.length).toBeGreaterThan(10);
    // The live list came over the ledger's WebSocket, opened with a ticket, never the token.
    expect(admin.requests.some((url) => url.startsWith(`${origin.replace("http", "ws")}/api/live?`))).toBe(true);
    expect(admin.requests.filter((url) => url.includes(ADMIN))).toEqual([]);
    const host = new URL(worker.url).host;
    const elsewhere = admin.requests.filter((url) => {
      const u = new URL(url);
      return !["blob:", "data:"].includes(u.protocol) && !(["http:", "ws:"].includes(u.protocol) && u.host === host);
    });
    expect(elsewhere).toEqual([]);
    expect(admin.errors).toEqual([]);
  });
});
