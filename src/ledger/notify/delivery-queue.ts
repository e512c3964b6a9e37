// The deliveries table's front: what a change enqueues (a webhook to send later, by the alarm:
// deliveries.ts), and how the queue is doing, for the stats.

import type { Destination } from "../../model";
import { scheduleIfAbsent } from "../scheduler";
import { run, sql } from "../../sql";

export function enqueueDelivery(storage: SqlStorage, id: string, destination: Destination, payload: unknown, now: number): void {
  run(
    storage,
    sql`INSERT INTO deliveries (id, destination, payload, created_at, next_at)
      VALUES (${id}, ${destination}, ${JSON.stringify(payload)}, ${now}, ${now}) ON CONFLICT (id) DO NOTHING`,
  );
  scheduleIfAbsent(storage, "deliver", destination, now);
}

export interface DeliveryHealth {
  pending: number;
  oldestPendingAgeMs: number | null;
  lastError: string | null;
}

export function deliveryHealth(storage: SqlStorage, now: number): DeliveryHealth {
  const row = run<{ n: number; oldest: number | null }>(storage, sql`SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM deliveries`).one();
  const lastError = run<{ last_error: string }>(
    storage,
    sql`SELECT last_error FROM deliveries WHERE last_error IS NOT NULL ORDER BY next_at DESC LIMIT 1`,
  ).toArray()[0];
  return { pending: row.n, oldestPendingAgeMs: row.oldest === null ? null : now - row.oldest, lastError: lastError?.last_error ?? null };
}
