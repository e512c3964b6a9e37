// The ledger's stats, assembled from its counters (no read scans the failures table), the
// outbox, the deliveries table and the circuits: the API's LedgerStats, one source in
// src/contract/schemas.ts, with the parts built by other modules proven to fit it exactly.

import type { LedgerStats } from "../contract/schemas";
import { FAILURE_CLASSES, FAILURE_STATUSES, TERMINAL_STATUSES, type FailureClass, type FailureStatus } from "../model";
import type { Same } from "../same";
import { counterKey, occurrencesInWindow, readCounters } from "./aggregates/counters";
import type { LedgerSettings } from "./setup";
import { deliveryHealth, type DeliveryHealth } from "./notify/delivery-queue";
import { outboxDepth } from "./outbox";
import { Circuits, type CircuitView } from "./recovery/circuit";
import { readStates } from "./state";
import { run, sql } from "../sql";

const sameCircuits: Same<LedgerStats["circuits"][string], CircuitView> = true;
const sameDeliveries: Same<Omit<LedgerStats["notifications"]["deliveries"], "sent" | "failures" | "dropped">, DeliveryHealth> = true;
void sameCircuits;
void sameDeliveries;

/** What the stats are read from: the ledger's storage, name, settings and clock. */
export interface StatsSource {
  readonly sql: SqlStorage;
  readonly tenant: string;
  readonly settings: LedgerSettings;
  now(): number;
}

export function readStats(core: StatsSource): LedgerStats {
  const storage = core.sql;
  const now = core.now();
  const state = readStates(storage);
  const depth = outboxDepth(storage);
  const values = readCounters(storage);
  const count = (key: string) => values.get(key) ?? 0;
  return {
    tenant: core.tenant,
    ...fromCounters(storage, values, now),
    notifications: {
      sent: count(counterKey.noticesSent),
      suppressed: count(counterKey.noticesSuppressed),
      digests: count(counterKey.digests),
      alerts: count(counterKey.alerts),
      deliveries: {
        ...deliveryHealth(storage, now),
        sent: count(counterKey.deliveriesSent),
        failures: count(counterKey.deliveryFailures),
        dropped: count(counterKey.deliveriesDropped),
      },
    },
    outbox: {
      pendingRows: depth.pendingRows,
      oldestPendingAgeMs: depth.oldestPendingAt === null ? null : Math.max(0, now - depth.oldestPendingAt),
      lastFlushAt: state.last_flush_at ? new Date(Number(state.last_flush_at)).toISOString() : null,
      lastFlushError:
        state.last_flush_error && state.last_flush_error_at
          ? { message: state.last_flush_error, at: new Date(Number(state.last_flush_error_at)).toISOString() }
          : null,
      consecutiveFlushFailures: Number(state.flush_failures ?? 0),
    },
    circuits: new Circuits(storage, core.settings.recovery.circuit).view(now),
  };
}

/** The stats kept as counters. */
type CounterSnapshot = Omit<LedgerStats, "tenant" | "outbox" | "circuits" | "notifications">;

/** The stats kept as counters alone: what D1's tenant summary is written from at each flush. */
export function readCounterStats(storage: SqlStorage, now: number): CounterSnapshot {
  return fromCounters(storage, readCounters(storage), now);
}

function fromCounters(storage: SqlStorage, values: Map<string, number>, now: number): CounterSnapshot {
  const get = (key: string) => values.get(key) ?? 0;
  const byQueue: Record<string, number> = {};
  for (const [key, value] of values) if (key.startsWith("queue:")) byQueue[key.slice(6)] = value;
  const byClass = Object.fromEntries(FAILURE_CLASSES.map((c) => [c, get(counterKey.byClass(c))])) as Record<FailureClass, number>;
  const byStatus = Object.fromEntries(FAILURE_STATUSES.map((s) => [s, get(counterKey.byStatus(s))])) as Record<FailureStatus, number>;
  const total = get(counterKey.total);
  const last24h = occurrencesInWindow(storage, now);
  return {
    total,
    occurrences: get(counterKey.occurrences),
    duplicates: get(counterKey.duplicates),
    batches: get(counterKey.batches),
    last24h,
    byClass,
    byStatus,
    byQueue,
    avgAttempts: total === 0 ? 0 : Math.round((get(counterKey.attemptsSum) / total) * 100) / 100,
    recoveryQueueSize: FAILURE_STATUSES.filter((s) => s !== "retrying" && !TERMINAL_STATUSES.includes(s)).reduce(
      (sum, s) => sum + byStatus[s],
      0,
    ),
    groups: get(counterKey.groups),
    rows: get(counterKey.rows),
    evicted: get(counterKey.evicted),
    archive: {
      flushes: get(counterKey.flushes),
      segments: get(counterKey.segments),
      occurrences: get(counterKey.archivedOccurrences),
      d1RowsWritten: get(counterKey.d1RowsWritten),
      d1Evicted: get(counterKey.d1Evicted),
    },
    recovery: {
      scheduledRetries: run<{ n: number }>(storage, sql`SELECT COUNT(*) AS n FROM due_work WHERE kind = 'retry'`).one().n,
      retriesSent: get(counterKey.retriesSent),
      resends: get(counterKey.resends),
      sendFailures: get(counterKey.sendFailures),
      refailures: get(counterKey.refailures),
      exhausted: get(counterKey.exhausted),
      poison: get(counterKey.poison),
      recovered: get(counterKey.recovered),
      presumedRecovered: get(counterKey.presumed),
      manualRequeues: get(counterKey.manualRequeues),
      abandoned: get(counterKey.abandoned),
    },
  };
}
