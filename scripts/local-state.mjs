// `npm start`'s check of the local state (.wrangler/state, or $PERSIST_TO) against the ledger's
// schema: a ledger older than the oldest version the code upgrades (src/ledger/schema.ts,
// OLDEST_UPGRADABLE) is refused when it opens, so such state is set aside before wrangler starts.
//
// Node 20 cannot read the Durable Objects' SQLite files without a dependency, so the state carries
// a marker (ledger-schema.json) saying how old its ledgers can be: the oldest version the code
// upgraded from when the marker was written, on state without ledgers. Ledgers created since are
// newer still (unless older code is run on the same state), so it stays a lower bound. State with
// ledgers and no marker predates the marker: it may be older than v14, so it is set aside too.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const MARKER = "ledger-schema.json";

/** OLDEST_UPGRADABLE, read from src/ledger/schema.ts (plain Node runs no TypeScript). */
export function oldestUpgradable(/** @type {string} */ root) {
  const source = readFileSync(join(root, "src", "ledger", "schema.ts"), "utf8");
  const match = /^export const OLDEST_UPGRADABLE = (\d+);$/m.exec(source);
  if (!match) throw new Error("src/ledger/schema.ts no longer declares `export const OLDEST_UPGRADABLE = <number>;`");
  return Number(match[1]);
}

/** The local ledgers' SQLite files: <state>/v3/do/<worker>-FailureLedger/*.sqlite. */
export function ledgerFiles(/** @type {string} */ state) {
  const doDir = join(state, "v3", "do");
  if (!existsSync(doDir)) return [];
  return readdirSync(doDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && d.name.endsWith("-FailureLedger"))
    .flatMap((d) => readdirSync(join(doDir, d.name)).filter((f) => f.endsWith(".sqlite")).map((f) => join(doDir, d.name, f)));
}

/** The marker's lower bound on the state's ledger versions, or null without a (readable) marker. */
function markedFrom(/** @type {string} */ state) {
  try {
    const value = JSON.parse(readFileSync(join(state, MARKER), "utf8")).ledgersFrom;
    return Number.isInteger(value) ? value : null;
  } catch {
    return null;
  }
}

function mark(/** @type {string} */ state, /** @type {number} */ from) {
  mkdirSync(state, { recursive: true });
  writeFileSync(join(state, MARKER), `${JSON.stringify({ ledgersFrom: from })}\n`);
}

/**
 * Resets the local state if asked (`reset`), or sets it aside if it may hold ledgers this code
 * refuses; marks the state it leaves. Returns what it did, as a message for the terminal, or null.
 * @param {{ state: string, oldest: number, reset?: boolean, now?: Date }} options
 * @returns {string | null}
 */
export function prepareLocalState({ state, oldest, reset = false, now = new Date() }) {
  if (reset) {
    const had = existsSync(state);
    rmSync(state, { recursive: true, force: true });
    mark(state, oldest);
    return had ? `removed the local state in ${state} (--reset): D1, R2, queues and Durable Objects start empty.` : null;
  }
  const files = ledgerFiles(state);
  const from = markedFrom(state);
  if (files.length === 0 || (from !== null && from >= oldest)) {
    if (files.length === 0) mark(state, oldest);
    return null;
  }
  const aside = `${state}-before-v${oldest}-${now.toISOString().replace(/[:.]/g, "-")}`;
  renameSync(state, aside);
  mark(state, oldest);
  const why =
    from === null
      ? `it holds ${files.length} ledger(s) written before npm start recorded ledger schema versions, possibly older than v${oldest}`
      : `its ledgers may be as old as v${from}`;
  return (
    `the local state in ${state} was set aside to ${aside}: ${why}, and this code refuses ledgers older than v${oldest}. ` +
    "Starting with empty local state (D1, R2, queues and Durable Objects); delete the old directory once you no longer need it."
  );
}
