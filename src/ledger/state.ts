// Small named values the ledger keeps about itself (its tenant, archive epoch, flush health).

import { run, sql } from "../sql";

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

export function readState(storage: SqlStorage, key: StateKey): string | null {
  return run<{ value: string }>(storage, sql`SELECT value FROM ledger_state WHERE key = ${key}`).toArray()[0]?.value ?? null;
}

export function writeState(storage: SqlStorage, key: StateKey, value: string | number | null): void {
  if (value === null) run(storage, sql`DELETE FROM ledger_state WHERE key = ${key}`);
  else
    run(
      storage,
      sql`INSERT INTO ledger_state (key, value) VALUES (${key}, ${String(value)}) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    );
}

export function readStates(storage: SqlStorage): Partial<Record<StateKey, string>> {
  const out: Partial<Record<StateKey, string>> = {};
  for (const row of run<{ key: string; value: string }>(storage, sql`SELECT key, value FROM ledger_state`)) out[row.key as StateKey] = row.value;
  return out;
}
