// Small named values the ledger keeps about itself (its tenant, archive epoch, flush health).

export type StateKey =
  | "tenant"
  | "epoch"
  | "last_flush_at"
  | "last_flush_error"
  | "last_flush_error_at"
  | "flush_failures"
  /** order_lists rows older than this were pruned (order-lists.ts) */
  | "order_lists_pruned_below"
  /** the outbox row a retention pass found eviction waiting for (retention.ts) */
  | "retention_blocked_on";

export function readState(sql: SqlStorage, key: StateKey): string | null {
  return sql.exec<{ value: string }>(`SELECT value FROM ledger_state WHERE key = ?`, key).toArray()[0]?.value ?? null;
}

export function writeState(sql: SqlStorage, key: StateKey, value: string | number | null): void {
  if (value === null) sql.exec(`DELETE FROM ledger_state WHERE key = ?`, key);
  else
    sql.exec(
      `INSERT INTO ledger_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      key,
      String(value),
    );
}

export function readStates(sql: SqlStorage): Partial<Record<StateKey, string>> {
  const out: Partial<Record<StateKey, string>> = {};
  for (const row of sql.exec<{ key: string; value: string }>(`SELECT key, value FROM ledger_state`)) out[row.key as StateKey] = row.value;
  return out;
}
