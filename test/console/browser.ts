// A real headless Chromium for the console tests: the one shipped inside @sparticuz/chromium
// (installed by `npm ci`, no download), driven by playwright-core. Every page records the
// requests it makes and what it logs, so a test can assert it stayed on the worker's origin.
// `look` screenshots a page in both color schemes and audits each with axe-core (WCAG 2.1 A and
// AA, and its best practices), failing with the list of violations.

import chromium from "@sparticuz/chromium";
import type { AxeResults, Result, RunOptions } from "axe-core";
import { mkdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium as playwright, type Browser, type BrowserContext, type Page } from "playwright-core";

export const SHOTS = fileURLToPath(new URL("../../test-results/console/", import.meta.url));

/** axe-core's browser build, from node_modules (no download). */
const AXE = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
/**
 * WCAG 2.1 A and AA, and axe's best practices: skipped heading levels, empty table headers and a
 * page without an h1 are rules of those, not of the WCAG tags.
 */
const AUDIT: RunOptions = { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] }, resultTypes: ["violations"] };
const SCHEMES = ["light", "dark"] as const;
type Scheme = (typeof SCHEMES)[number];

export async function launch(): Promise<Browser> {
  await mkdir(SHOTS, { recursive: true });
  // The package's flags are tuned for AWS Lambda; --single-process there makes closing one
  // context end the whole browser, so it is left out.
  const args = chromium.args.filter((arg) => arg !== "--single-process");
  return playwright.launch({ executablePath: await chromium.executablePath(), args, headless: true });
}

export interface Watched {
  page: Page;
  context: BrowserContext;
  /** Every URL the page requested (documents, scripts, fetches, sockets). */
  requests: string[];
  /** console.error output and uncaught exceptions. */
  errors: string[];
  /** Screenshots the page as `name-light.png` and `name-dark.png` and audits it in both schemes. */
  look: (name: string) => Promise<void>;
}

export async function openPage(browser: Browser, options: { colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  const scheme = options.colorScheme ?? "light";
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: scheme, acceptDownloads: true });
  // axe-core goes into every document the page opens. An init script, not a <script> tag: the
  // console's CSP (script-src 'self') refuses inline scripts, and an init script is outside it.
  await context.addInitScript({ path: AXE });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("websocket", (ws) => requests.push(ws.url()));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  const look = async (name: string) => {
    const found: string[] = [];
    try {
      for (const colorScheme of SCHEMES) {
        await page.emulateMedia({ colorScheme });
        await page.screenshot({ path: join(SHOTS, `${name}-${colorScheme}.png`), fullPage: true });
        const violations = await axe(page);
        if (violations.length) found.push(report(name, colorScheme, violations));
      }
    } finally {
      await page.emulateMedia({ colorScheme: scheme });
    }
    if (found.length) throw new Error(found.join("\n\n"));
  };
  return { page, context, requests, errors, look };
}

/** Runs axe-core in the page (put there by openPage) and returns its violations. */
export async function axe(page: Page): Promise<Result[]> {
  const results = await page.evaluate(
    (options) => (globalThis as unknown as { axe: { run: (context: unknown, options: unknown) => Promise<AxeResults> } }).axe.run((globalThis as unknown as { document: unknown }).document, options),
    AUDIT,
  );
  return results.violations;
}

/** One line per rule (id, impact, help) and one per offending element (selector, what is wrong). */
function report(name: string, scheme: Scheme, violations: Result[]): string {
  const lines = [`${name} (${scheme}): ${violations.length} accessibility ${violations.length === 1 ? "violation" : "violations"}`];
  for (const v of violations) {
    lines.push(`  ${v.id} [${v.impact ?? "?"}] ${v.help} (${v.helpUrl})`);
    for (const node of v.nodes) {
      const why = [...node.any, ...node.all, ...node.none].map((c) => c.message).find(Boolean);
      lines.push(`    ${node.target.join(" >> ")}${why ? `: ${why}` : ""}`);
    }
  }
  return lines.join("\n");
}

export async function signIn(page: Page, base: string, token: string, path = "/console/"): Promise<void> {
  await page.goto(base + path);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}
