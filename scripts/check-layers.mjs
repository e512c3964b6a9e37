// `npm run layers`: the boundaries madge cannot see. The ledger's storage (src/ledger/store) is the
// only code that names the tables it owns in SQL, and src/ledger imports nothing from src/api.
// Import cycles are madge's (`npm run cycles`).

import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const ledger = join(root, "src", "ledger");
/** The tables behind the store (src/ledger/schema.ts creates them; only the store uses them). */
const STORE_TABLES = ["failures", "groups", "group_history", "recent", "order_lists", "archived_fields"];
const statement = new RegExp(`\\b(?:FROM|INTO|UPDATE|JOIN)\\s+(${STORE_TABLES.join("|")})\\b`, "i");

/** @param {string} dir @returns {string[]} */
const files = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));

/** @type {string[]} */
const problems = [];
for (const file of files(ledger)) {
  const path = relative(root, file);
  const text = readFileSync(file, "utf8");
  const inStore = path.startsWith(join("src", "ledger", "store"));
  text.split("\n").forEach((line, i) => {
    const code = line.replace(/\/\/.*$/, "");
    if (!inStore && path !== join("src", "ledger", "schema.ts") && statement.test(code)) {
      problems.push(`${path}:${i + 1}: names a store table outside src/ledger/store: ${line.trim()}`);
    }
    if (/\bfrom\s+["'][./]*\/api\//.test(code)) problems.push(`${path}:${i + 1}: src/ledger imports from src/api: ${line.trim()}`);
  });
}
if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`layers: the store's tables are named only in src/ledger/store; src/ledger imports nothing from src/api`);
