// The operator console in a real headless Chromium, against the worker run by `wrangler dev`
// (which builds the console first, as `npm start` does). Every page a user can reach is
// screenshotted and audited with axe-core (WCAG 2.1 A and AA, and axe's best practices) in the
// light and the dark color scheme (`look`); the screenshots land in test-results/console/, whose
// path is printed at the end.

import { readFile } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FailureEnvelope } from "@dlq-ledger/capture";
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
  const envelope: FailureEnvelope = { v: 2, tenantId, jobId, queue: "jobs", body: { tenantId, jobId, chart: 7 }, error: { name: "Error", message, status }, attempts: 4, enqueuedAt: at, lastFailedAt: at };
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
    const { page, look } = admin;
    await page.goto(`${worker.url}/console/`);
    await page.getByLabel("Token").waitFor();
    await look("00-sign-in");
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
    await look("01-tenants");
  });

  it("shows a tenant's live counters, the same as its stats", async () => {
    const { page, look } = admin;
    await page.getByRole("link", { name: "acme", exact: true }).click();
    await page.waitForURL(/\/console\/tenants\/acme$/);
    const stats = await call<TenantStats>("/api/queue/dlq/stats?tenant=acme");
    const card = (label: string) => page.locator(".card").filter({ hasText: label }).locator(".card-value");
    await expect.poll(() => card("Failures").textContent()).toBe(String(stats.total));
    expect(await card("Last 24 h").textContent()).toBe(String(stats.last24h));
    expect(await card("Groups").textContent()).toBe(String(stats.groups));
    // The failures-over-time chart counts what the ledger flushed: every failure so far.
    const chart = page.getByRole("img", { name: /^24 hours:/ });
    await expect.poll(() => chart.getAttribute("aria-label")).toContain(`24 hours: ${stats.total} failures`);
    await page.getByRole("button", { name: "14 days" }).click();
    await expect.poll(() => page.getByRole("img", { name: /^14 days:/ }).getAttribute("aria-label")).toContain(`14 days: ${stats.total} failures`);
    await page.getByRole("button", { name: "24 hours" }).click();
    await look("02-tenant-overview");
  });

  it("lists failures newest first and inserts a new one without a reload", async () => {
    const { page, look } = admin;
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
    await look("03-failures");
  });

  it("filters into the URL, and the URL opens the same view in a new tab", async () => {
    const { page, look } = admin;
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
    await look("04-failures-filtered");

    // Search goes into the URL too, and combines with the filter.
    await page.getByRole("searchbox").fill("chart 2");
    await page.getByRole("searchbox").press("Enter");
    await page.waitForURL(/q=chart\+2/);
    const found = await call<Page>("/api/queue/dlq/failures?tenant=acme&class=USER_ERROR&q=chart%202");
    expect(found.items.map((f) => f.jobId)).toEqual(["acme-user-2"]);
    await expect.poll(() => table.locator("tbody th[scope=row]").allTextContents()).toEqual(["acme-user-2"]);
    await look("04b-failures-search");

    // Export: the file holds what the filter and search match, as the API lists it.
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: "Export CSV" }).click()]);
    const csv = (await readFile((await download.path())!, "utf8")).trim().split("\n");
    expect(csv[0]).toMatch(/^jobId,tenantId,/);
    expect(csv.slice(1).map((line) => line.split(",")[0])).toEqual(["acme-user-2"]);

    // The keyboard: `/` focuses the search field; j / k move through the list; Enter opens.
    await page.getByRole("searchbox").fill("");
    await page.getByRole("searchbox").press("Enter");
    await page.waitForURL((url) => !url.search.includes("q="));
    await expect.poll(() => table.locator("tbody tr").count()).toBe(api.items.length);
    await page.locator("h1").click();
    await page.keyboard.press("/");
    expect(await page.evaluate("document.activeElement?.getAttribute('type')")).toBe("search");
    await page.locator("h1").click();
    await page.keyboard.press("j");
    await page.keyboard.press("j");
    await page.keyboard.press("k");
    expect(await table.locator("tbody tr.active th[scope=row]").textContent()).toBe(api.items[0]!.jobId);
    await page.keyboard.press("j");
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`/failures/${api.items[1]!.jobId}$`));
    await page.goBack();
    await table.waitFor();
  });

  it("opens a failure, edits its body and requeues it, and shows the history entry", async () => {
    const { page, look } = admin;
    await page.goto(`${worker.url}/console/tenants/acme/failures?class=USER_ERROR`);
    await page.getByRole("link", { name: "acme-user-1", exact: true }).click();
    await page.getByRole("heading", { name: /acme-user-1/ }).waitFor();
    expect(await page.getByLabel("Stack trace").count()).toBe(0);
    expect(await page.getByLabel("Body").textContent()).toContain('"chart": 7');
    await look("05-failure-detail");
    await page.getByRole("button", { name: "Edit and requeue" }).click();
    const dialog = page.getByRole("dialog", { name: "Edit and requeue" });
    const editor = dialog.getByLabel(/Body/);
    await editor.fill((await editor.inputValue()).replace('"chart": 7', '"chart": 8'));
    await look("06-edit-and-requeue");
    await dialog.getByRole("button", { name: "Requeue with this body" }).click();
    await page.getByRole("status").filter({ hasText: "Sent back with the edited body" }).waitFor();
    await page.getByLabel("History").getByText("requeued by admin").waitFor();
    const api = await call<{ items: { action: string; actor: string; detail: Record<string, unknown> }[] }>("/api/queue/dlq/failures/acme-user-1/history?tenant=acme");
    const entry = api.items.find((h) => h.action === "requeue")!;
    expect(entry).toMatchObject({ actor: "admin" });
    expect(entry.detail.newBodySha256).toMatch(/^[0-9a-f]{64}$/);
    expect(entry.detail.newBodySha256).not.toBe(entry.detail.oldBodySha256);
    expect(await page.getByLabel("History").textContent()).toContain(String(entry.detail.newBodySha256));
    await expect.poll(async () => await page.getByLabel("Body").textContent()).toContain('"chart": 8');
  });

  it("abandons everything a filter matches after showing the dry-run count", async () => {
    const { page, look } = admin;
    await page.goto(`${worker.url}/console/tenants/acme/failures?class=SYSTEM_ERROR`);
    const table = page.getByRole("table", { name: "Failures" });
    await table.waitFor();
    await page.getByRole("button", { name: "Abandon all matching" }).click();
    const dialog = page.getByRole("dialog", { name: "Abandon all matching" });
    await dialog.getByTestId("bulk-count").waitFor();
    expect(await dialog.getByTestId("bulk-count").textContent()).toContain("2 failures");
    await look("07-bulk-preview");
    await dialog.getByLabel(/Reason/).fill("database migrated; these jobs are obsolete");
    await dialog.getByRole("button", { name: "Abandon 2" }).click();
    await dialog.getByTestId("bulk-progress").filter({ hasText: "finished" }).waitFor({ timeout: 30_000 });
    expect(await dialog.getByTestId("bulk-progress").textContent()).toContain("2 of 2 processed: 2 done, 0 failed");
    await look("08-bulk-done");
    await dialog.getByRole("button", { name: "Close" }).click();
    const api = await call<Page>("/api/queue/dlq/failures?tenant=acme&class=SYSTEM_ERROR");
    expect(api.items.map((f) => f.status)).toEqual(["abandoned", "abandoned"]);
    await expect.poll(() => table.locator("tbody .badge.status-abandoned").count()).toBe(2);
  });

  it("shows a read token no action, and the API refuses it anyway", async () => {
    const created = await call<{ token: string }>("/api/admin/tokens", { method: "POST", body: { tenant: "acme", label: "acme-viewer", scope: "read" } });
    const tab = await openPage(browser);
    await signIn(tab.page, worker.url, created.token, "/console/tenants/acme/failures");
    const table = tab.page.getByRole("table", { name: "Failures" });
    await table.waitFor();
    expect(await tab.page.getByRole("status", { name: /Live updates/ }).count()).toBe(1);
    expect(await tab.page.locator(".who .badge").textContent()).toBe("read");
    for (const name of ["Requeue all matching", "Abandon all matching"]) expect(await tab.page.getByRole("button", { name }).count()).toBe(0);
    expect(await table.getByRole("checkbox").count()).toBe(0);
    await table.getByRole("link", { name: "acme-user-3", exact: true }).click();
    await tab.page.getByRole("heading", { name: /acme-user-3/ }).waitFor();
    for (const name of ["Requeue", "Edit and requeue", "Abandon"]) expect(await tab.page.getByRole("button", { name, exact: true }).count()).toBe(0);
    await tab.look("09-read-token");
    await tab.page.goBack();
    await table.getByRole("link", { name: "acme-user-3", exact: true }).waitFor();
    await tab.look("09b-read-token-failures");
    const refused = await fetch(`${worker.url}/api/queue/dlq/failures/acme-user-3/requeue?tenant=acme`, { method: "POST", headers: { authorization: `Bearer ${created.token}` } });
    expect(refused.status).toBe(403);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it("takes a tenant token straight to its tenant, and signing out forgets it", async () => {
    const created = await call<{ token: string }>("/api/admin/tokens", { method: "POST", body: { tenant: "globex", label: "globex-oncall" } });
    const tab = await openPage(browser, { colorScheme: "dark" });
    await signIn(tab.page, worker.url, created.token);
    await tab.page.waitForURL(/\/console\/tenants\/globex$/);
    await tab.page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(await tab.page.getByRole("link", { name: "Tokens" }).count()).toBe(0);
    // as its user sees it: counters loaded, live updates connected
    await tab.page.getByText("Recovery queue").waitFor();
    await tab.page.getByRole("status", { name: "Live updates: live" }).waitFor();
    await tab.look("10-tenant-token");
    await tab.page.getByRole("button", { name: "Sign out" }).click();
    await tab.page.getByLabel("Token").waitFor();
    await tab.page.getByText("Signed out. The token is forgotten.").waitFor();
    await tab.look("10b-signed-out");
    expect(await tab.page.evaluate("sessionStorage.length + localStorage.length")).toBe(0);
    expect(tab.errors).toEqual([]);
    await tab.context.close();
  });

  it("shows groups with their trend, the tokens with their scopes, and parking", async () => {
    const { page, look } = admin;
    await page.goto(`${worker.url}/console/tenants/acme/groups`);
    const table = page.getByRole("table", { name: "Failure groups" });
    await table.waitFor();
    const api = await call<{ items: { fingerprint: string; count: number; sparkline: number[] }[] }>("/api/queue/dlq/groups?tenant=acme");
    expect(await table.locator("tbody tr").count()).toBe(api.items.length);
    const first = api.items[0]!;
    await expect.poll(() => table.getByRole("img").first().getAttribute("aria-label")).toContain(first.sparkline.join(", "));
    await look("11-groups");
    await table.getByRole("link").first().click();
    await page.waitForURL(new RegExp(`group=${first.fingerprint}`));
    await expect.poll(() => page.getByRole("table", { name: "Failures" }).locator("tbody tr").count()).toBe(first.count);

    await page.getByRole("link", { name: "Tokens" }).click();
    const tokens = page.getByRole("table", { name: "Tokens" });
    await tokens.getByRole("rowheader", { name: "acme-viewer" }).waitFor();
    const viewer = tokens.getByRole("row").filter({ has: page.getByRole("rowheader", { name: "acme-viewer" }) });
    expect(await viewer.locator(".badge").textContent()).toBe("read");
    await page.getByLabel("Tenant", { exact: true }).fill("initech");
    await page.getByLabel("Label").fill("initech-ops");
    await page.getByLabel("Scope").selectOption("operate");
    await page.getByRole("button", { name: "Create token" }).click();
    const secret = await page.getByLabel("The new token").textContent();
    expect(secret).toMatch(/^dlq_/);
    expect((await call<{ label: string }>("/api/session", { token: secret! })).label).toBe("initech-ops");
    await look("12-tokens");
    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Revoke initech-ops of initech" }).click();
    await expect.poll(() => tokens.getByRole("rowheader", { name: "initech-ops" }).count()).toBe(0);
    expect((await fetch(`${worker.url}/api/session`, { headers: { authorization: `Bearer ${secret}` } })).status).toBe(401);

    await page.getByRole("link", { name: "Parking" }).click();
    await page.getByText("Nothing is parked").waitFor();
    await look("13-parking");
  });

  it("passes the audit on the pages and dialogs the steps above leave out", async () => {
    // A tab of its own: the missing failure answers 404, which Chromium logs as an error.
    const tab = await openPage(browser);
    const { page, look } = tab;
    await signIn(page, worker.url, ADMIN);
    await page.getByRole("table", { name: "Tenants" }).waitFor();
    await page.getByRole("link", { name: "Quarantine" }).click();
    await page.getByText("No failures recorded for this tenant yet.").waitFor();
    await look("14-quarantine");

    await page.getByRole("link", { name: "Tokens" }).click();
    await page.getByLabel("Show revoked tokens").check();
    await page.getByRole("table", { name: "Tokens" }).getByRole("rowheader", { name: "initech-ops" }).waitFor();
    await look("15-tokens-revoked");

    await page.goto(`${worker.url}/console/tenants/acme/failures/acme-user-3`);
    await page.getByRole("button", { name: "Abandon", exact: true }).click();
    const abandon = page.getByRole("dialog", { name: "Abandon this failure" });
    await abandon.getByLabel("Reason").waitFor();
    await look("16-abandon");
    await abandon.getByRole("button", { name: "Cancel" }).click();

    await page.goto(`${worker.url}/console/tenants/acme/failures?class=USER_ERROR`);
    await page.getByRole("checkbox", { name: "Select acme-user-3" }).check();
    await page.getByRole("button", { name: "Requeue selected (1)" }).click();
    const selected = page.getByRole("dialog", { name: "Requeue selected" });
    await selected.getByTestId("bulk-count").waitFor();
    await look("17-bulk-selected");
    await selected.getByRole("button", { name: "Cancel" }).click();

    await page.goto(`${worker.url}/console/tenants/acme/failures?queue=nowhere`);
    await page.getByText("Nothing matches these filters").waitFor();
    await look("18-failures-no-match");

    await page.goto(`${worker.url}/console/tenants/initech`);
    await page.getByText("No failures recorded for").waitFor();
    await look("19-tenant-empty");

    await page.goto(`${worker.url}/console/tenants/acme/failures/no-such-job`);
    await page.getByText("No failure").waitFor();
    await look("20-failure-missing");

    await page.goto(`${worker.url}/console/nowhere`);
    await page.getByText("There is no page at").waitFor();
    await look("21-no-such-page");

    // The audit itself: an image without a text alternative is reported, by rule and selector.
    await page.evaluate(`document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="data:,">')`);
    const audit = await look("22-audit-self-check").then(
      () => "",
      (e: Error) => e.message,
    );
    expect(audit).toMatch(/^22-audit-self-check \(light\): 1 accessibility violation\n {2}image-alt \[critical\] .*\n {4}img: Element does not have an alt attribute$/m);
    expect(audit).toContain("22-audit-self-check (dark): 1 accessibility violation");
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
