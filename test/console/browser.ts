// A real headless Chromium for the console tests: the one shipped inside @sparticuz/chromium
// (installed by `npm ci`, no download), driven by playwright-core. Every page records the
// requests it makes and what it logs, so a test can assert it stayed on the worker's origin.

import chromium from "@sparticuz/chromium";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium as playwright, type Browser, type BrowserContext, type Page } from "playwright-core";

export const SHOTS = fileURLToPath(new URL("../../test-results/console/", import.meta.url));

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
  shot: (name: string) => Promise<void>;
}

export async function openPage(browser: Browser, options: { colorScheme?: "light" | "dark" } = {}): Promise<Watched> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: options.colorScheme ?? "light", acceptDownloads: true });
  const page = await context.newPage();
  const requests: string[] = [];
  const errors: string[] = [];
  page.on("request", (r) => requests.push(r.url()));
  page.on("websocket", (ws) => requests.push(ws.url()));
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(e.message));
  const shot = async (name: string) => {
    await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  };
  return { page, context, requests, errors, shot };
}

export async function signIn(page: Page, base: string, token: string, path = "/console/"): Promise<void> {
  await page.goto(base + path);
  await page.getByLabel("Token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
}
