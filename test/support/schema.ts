// Ledger storage as older code left it, and the schema of a ledger as data to compare.

import { migrateAsOldCode } from "./ledger-v14";

/** The ledger's own tables: not SQLite's (sqlite_*) nor the runtime's (_cf_*). */
export function ledgerTables(sql: SqlStorage): string[] {
  return sql
    .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY name`)
    .toArray()
    .map((r) => r.name);
}

/** Drops every table of the ledger (their indexes with them): storage as a new object has it. */
export function clearLedger(sql: SqlStorage): void {
  for (const name of ledgerTables(sql)) sql.exec(`DROP TABLE "${name}"`);
}

/** Replaces this object's storage with an empty ledger as code of schema `version` (1..14) created it. */
export function emptyLedgerAsOldCode(storage: DurableObjectStorage, version: number): void {
  clearLedger(storage.sql);
  migrateAsOldCode(storage, version);
}

/**
 * The same ledger as v14 code laid it out: every row copied out, the storage rebuilt by the
 * frozen v1..v14 steps, the rows copied back by column name. (v14's tables and columns are the
 * baseline's; a table or column added after v15 has nowhere to go and is left behind.)
 */
export function asV14(storage: DurableObjectStorage): void {
  const sql = storage.sql;
  const rows = new Map(ledgerTables(sql).filter((t) => t !== "ledger_meta").map((t) => [t, sql.exec(`SELECT * FROM "${t}"`).toArray()]));
  emptyLedgerAsOldCode(storage, 14);
  storage.transactionSync(() => {
    for (const table of ledgerTables(sql)) {
      const kept = rows.get(table);
      if (!kept) continue;
      const columns = new Set(sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table).toArray().map((c) => c.name));
      sql.exec(`DELETE FROM "${table}"`);
      for (const row of kept) {
        const names = Object.keys(row).filter((c) => columns.has(c));
        sql.exec(`INSERT INTO "${table}" (${names.map((c) => `"${c}"`).join(", ")}) VALUES (${names.map(() => "?").join(", ")})`, ...names.map((c) => row[c]));
      }
    }
  });
}

/**
 * A ledger's schema as data: per table its kind (rowid or not, strict), its columns in order
 * (pragma_table_info) and its indexes with their columns (pragma_index_list, pragma_index_info).
 * Compared structurally, not as sqlite_master.sql: a column added by ALTER TABLE reads
 * differently there (", name TYPE" spliced before the closing parenthesis) from the same column
 * in a CREATE TABLE, and whitespace differs. What these pragmas do not show (a CHECK
 * constraint's text) is not compared.
 */
export function schemaOf(sql: SqlStorage) {
  const tables: Record<string, unknown> = {};
  for (const name of ledgerTables(sql)) {
    tables[name] = {
      kind: sql.exec(`SELECT type, ncol, wr, strict FROM pragma_table_list(?)`, name).one(),
      columns: sql.exec(`SELECT cid, name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, name).toArray(),
      indexes: sql
        .exec<{ name: string }>(`SELECT name, "unique", origin, partial FROM pragma_index_list(?) ORDER BY name`, name)
        .toArray()
        .map((index) => ({ ...index, columns: sql.exec(`SELECT seqno, cid, name FROM pragma_index_info(?) ORDER BY seqno`, index.name).toArray() })),
    };
  }
  const others = sql
    .exec(`SELECT type, name, tbl_name FROM sqlite_master WHERE type <> 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND tbl_name NOT LIKE '\\_cf\\_%' ESCAPE '\\' ORDER BY type, name`)
    .toArray();
  return { tables, others };
}

/** Every row of every table but ledger_meta, sorted. */
export function rowsOf(sql: SqlStorage, shape: Record<string, string[]> = columnsOf(sql)): Record<string, unknown[]> {
  const rows = (t: string, columns: string[]) =>
    sql.exec(`SELECT ${columns.map((c) => `"${c}"`).join(", ")} FROM "${t}" ORDER BY ${columns.map((_, i) => i + 1).join(", ")}`).toArray();
  return Object.fromEntries(Object.entries(shape).map(([t, columns]) => [t, rows(t, columns)]));
}

/** Each ledger table's columns (ledger_meta aside): the shape `rowsOf` reads. */
export function columnsOf(sql: SqlStorage): Record<string, string[]> {
  return Object.fromEntries(
    ledgerTables(sql)
      .filter((t) => t !== "ledger_meta")
      .map((t) => [t, sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, t).toArray().map((c) => c.name)]),
  );
}
