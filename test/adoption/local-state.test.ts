// `npm start`'s check of its local state (scripts/local-state.mjs) on throwaway directories:
// state that may hold ledgers older than the code upgrades is set aside, never deleted unasked;
// `--reset` empties it; state the code can open is kept.

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ledgerFiles, oldestUpgradable, prepareLocalState } from "../../scripts/local-state.mjs";
import { root } from "../../scripts/dev-stack.mjs";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A parent directory and the state path in it, with a ledger's SQLite file if asked. */
function localState(options: { ledger?: boolean; marker?: number } = {}) {
  const parent = mkdtempSync(join(tmpdir(), "dlq-local-state-"));
  dirs.push(parent);
  const state = join(parent, "state");
  mkdirSync(join(state, "v3", "d1"), { recursive: true });
  if (options.ledger) {
    mkdirSync(join(state, "v3", "do", "dlq-ledger-FailureLedger"), { recursive: true });
    writeFileSync(join(state, "v3", "do", "dlq-ledger-FailureLedger", "abc.sqlite"), "not really SQLite");
  }
  if (options.marker !== undefined) writeFileSync(join(state, "ledger-schema.json"), JSON.stringify({ ledgersFrom: options.marker }));
  return { parent, state };
}

const marker = (state: string) => JSON.parse(readFileSync(join(state, "ledger-schema.json"), "utf8")) as { ledgersFrom: number };
const now = new Date("2026-05-01T12:00:00Z");

describe("npm start's local state", () => {
  it("reads the oldest upgradable ledger version from src/ledger/schema.ts", async () => {
    // Imported by a computed path: the Node typecheck has no Workers types for the module's signatures.
    const schema = "../../src/ledger/schema";
    const { OLDEST_UPGRADABLE } = (await import(/* @vite-ignore */ schema)) as { OLDEST_UPGRADABLE: number };
    expect(oldestUpgradable(root)).toBe(OLDEST_UPGRADABLE);
  });

  it("marks state without ledgers and keeps it", () => {
    const { state } = localState();
    expect(prepareLocalState({ state, oldest: 14, now })).toBeNull();
    expect(marker(state)).toEqual({ ledgersFrom: 14 });
    expect(existsSync(join(state, "v3", "d1"))).toBe(true);
  });

  it("keeps state whose marker says its ledgers open", () => {
    const { state } = localState({ ledger: true, marker: 14 });
    expect(prepareLocalState({ state, oldest: 14, now })).toBeNull();
    expect(ledgerFiles(state)).toHaveLength(1);
    expect(marker(state)).toEqual({ ledgersFrom: 14 });
  });

  it.each([
    ["no marker (written before markers)", undefined, /written before npm start recorded ledger schema versions, possibly older than v14/],
    ["a marker older than the code upgrades", 1, /its ledgers may be as old as v1/],
  ])("sets aside state with ledgers and %s, keeping it whole", (_name, mark, why) => {
    const { parent, state } = localState({ ledger: true, marker: mark });
    const message = prepareLocalState({ state, oldest: 14, now });
    const aside = join(parent, "state-before-v14-2026-05-01T12-00-00-000Z");
    expect(message).toMatch(why);
    expect(message).toContain(`set aside to ${aside}`);
    expect(message).toContain("refuses ledgers older than v14");
    expect(ledgerFiles(aside)).toHaveLength(1);
    expect(ledgerFiles(state)).toEqual([]);
    expect(readdirSync(state)).toEqual(["ledger-schema.json"]);
    expect(marker(state)).toEqual({ ledgersFrom: 14 });
  });

  it("empties the state on --reset, whatever it holds", () => {
    const { parent, state } = localState({ ledger: true, marker: 14 });
    expect(prepareLocalState({ state, oldest: 14, reset: true, now })).toContain(`removed the local state in ${state} (--reset)`);
    expect(readdirSync(state)).toEqual(["ledger-schema.json"]);
    expect(readdirSync(parent)).toEqual(["state"]);
  });
});
