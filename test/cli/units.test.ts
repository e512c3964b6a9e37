// The CLI's pieces that need no server: CSV, tables, the progress bar, and how the client waits
// out a 429 (a stub fetch plays the rate-limited server; the end-to-end tests use the real one).

import { describe, expect, it } from "vitest";
import { Client } from "../../src/cli/client.mjs";
import { CliError } from "../../src/cli/errors.mjs";
import { csvField, progress, table } from "../../src/cli/format.mjs";

describe("csvField", () => {
  it.each([
    ["plain", "plain"],
    ["a,b", '"a,b"'],
    ['say "hi"', '"say ""hi"""'],
    ["two\nlines", '"two\nlines"'],
    ["=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""],
    ["+1", "'+1"],
    ["-rf", "'-rf"],
    ["@SUM(A1)", "'@SUM(A1)"],
    [null, ""],
    [undefined, ""],
    [-3, "-3"],
    [false, "false"],
  ])("%j → %s", (value, expected) => {
    expect(csvField(value)).toBe(expected);
  });
});

describe("table", () => {
  it("aligns columns and cuts the last one to the width", () => {
    const out = table(["ID", "REASON"], [["a", "short"], ["bbbb", "a much longer reason than fits"]], 20);
    expect(out).toBe("ID    REASON\na     short\nbbbb  a much longer…\n");
  });
});

describe("progress", () => {
  const sink = () => {
    let text = "";
    return { out: { write: (t: string) => (text += t), isTTY: true }, text: () => text };
  };

  it("draws a bar in place and clears it", () => {
    const s = sink();
    let now = 0;
    const bar = progress(s.out, { enabled: true, label: "Requeueing", now: () => now });
    now = 2000;
    bar.update(50, 100);
    bar.done();
    expect(s.text()).toBe("\rRequeueing [############............] 50% 50/100 25.0/s\x1b[K\r\x1b[K");
  });

  it("draws nothing when disabled", () => {
    const s = sink();
    const bar = progress(s.out, { enabled: false, label: "x" });
    bar.update(1, 2);
    bar.done();
    expect(s.text()).toBe("");
  });
});

describe("Client and 429", () => {
  const limited = (retryAfter: string) =>
    new Response(JSON.stringify({ error: { code: "rate_limited", message: "too many requests for this token; retry in 3 s" } }), {
      status: 429,
      headers: { "retry-after": retryAfter, "content-type": "application/json" },
    });

  it("waits as long as Retry-After says, then carries on", async () => {
    const answers = [limited("3"), Response.json({ ok: true })];
    const slept: number[] = [];
    const client = new Client({ url: "http://api.test", token: "t", fetch: async () => answers.shift()!, sleep: async (ms) => void slept.push(ms) });
    expect(await client.request("GET", "/x")).toEqual({ ok: true });
    expect(slept).toEqual([3000]);
  });

  it("gives up after a few waits, with the server's message and what to do", async () => {
    const client = new Client({ url: "http://api.test", token: "t", fetch: async () => limited("1"), sleep: async () => {} });
    const error = await client.request("GET", "/x").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliError);
    expect(error).toMatchObject({ status: 429, exitCode: 1, hint: "wait a minute and run it again" });
  });

  it("does not sit through a long Retry-After", async () => {
    let calls = 0;
    const client = new Client({ url: "http://api.test", token: "t", fetch: async () => (calls++, limited("3600")), sleep: async () => {} });
    await expect(client.request("GET", "/x")).rejects.toMatchObject({ status: 429 });
    expect(calls).toBe(1);
  });
});
