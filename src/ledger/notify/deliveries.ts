// Webhook deliveries wait in the ledger's own table, so sending never blocks ingest. The alarm
// sends them per destination at that destination's pace, honours 429 Retry-After, and backs
// off on errors. A delivery leaves the table in the same step that saw it succeed. Deliveries
// enter the table through delivery-queue.ts.

import type { Destination } from "../../model";
import type { LedgerCore } from "../core";
import { counterKey } from "../aggregates/counters";
import { scheduleAt, unschedule } from "../scheduler";
import { run, sql } from "../../sql";

/** Deliveries per second each destination accepts (Slack: about 1/s; PagerDuty: 120/min). */
const PER_SECOND: Record<Destination, number> = { slack: 1, pagerduty: 2, user_webhook: 10 };
const backoffMs = (attempts: number) => Math.min(300_000, 2000 * 2 ** Math.min(attempts - 1, 8));

type DeliveryRow = { id: string; payload: string; attempts: number };

export async function runDeliveries(core: LedgerCore, destination: Destination, now: number): Promise<void> {
  const storage = core.sql;
  const notify = core.settings.notify;
  const paused = run<{ paused_until: number }>(storage, sql`SELECT paused_until FROM destinations WHERE destination = ${destination}`).toArray()[0];
  if (paused && paused.paused_until > now) {
    core.transact(() => scheduleAt(storage, "deliver", destination, paused.paused_until), now);
    return;
  }
  const due = run<DeliveryRow>(
    storage,
    sql`SELECT id, payload, attempts FROM deliveries WHERE destination = ${destination} AND next_at <= ${now}
      ORDER BY next_at, created_at LIMIT ${PER_SECOND[destination]}`,
  ).toArray();

  for (const row of due) {
    const result = await core.sinks.deliver(notify, destination, JSON.parse(row.payload), now);
    let stop = false;
    core.transact(({ deltas }) => {
      if (!result) {
        console.warn(`delivery ${row.id}: ${destination} is not configured any more; dropped`);
        run(storage, sql`DELETE FROM deliveries WHERE id = ${row.id}`);
        deltas.add(counterKey.deliveriesDropped, 1);
      } else if (result.ok) {
        run(storage, sql`DELETE FROM deliveries WHERE id = ${row.id}`);
        deltas.add(counterKey.deliveriesSent, 1);
      } else {
        const attempts = row.attempts + 1;
        const wait = result.retryAfterMs ?? (result.status === 429 ? 60_000 : backoffMs(attempts));
        run(storage, sql`UPDATE deliveries SET attempts = ${attempts}, next_at = ${now + wait}, last_error = ${result.error} WHERE id = ${row.id}`);
        deltas.add(counterKey.deliveryFailures, 1);
        if (result.status === 429) {
          // The destination asked us to slow down: nothing goes to it until then.
          run(
            storage,
            sql`INSERT INTO destinations (destination, paused_until) VALUES (${destination}, ${now + wait})
              ON CONFLICT (destination) DO UPDATE SET paused_until = excluded.paused_until`,
          );
          stop = true;
        }
      }
    }, now);
    if (stop) break;
  }

  core.transact(() => {
    const next = run<{ at: number | null }>(storage, sql`SELECT MIN(next_at) AS at FROM deliveries WHERE destination = ${destination}`).one().at;
    if (next === null) unschedule(storage, "deliver", destination);
    // At most PER_SECOND[destination] per second: the next run is a second after this one at the earliest.
    else scheduleAt(storage, "deliver", destination, Math.max(next, now + 1000));
  }, now);
}
