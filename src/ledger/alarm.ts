// The ledger's one alarm runs the due-work table: each kind of due work has its handler here,
// given every key of that kind that is due, in the order of DUE_KINDS.

import { faultPoint } from "../faults";
import { DESTINATIONS, type Destination } from "../model";
import type { LedgerCore } from "./core";
import { pruneD1 } from "./d1-pruning";
import { flush } from "./flush";
import { runDeliveries } from "./notify/deliveries";
import { resolveIfQuiet } from "./notify/ops";
import { digestFor } from "./notify/users";
import { stepOperation } from "./recovery/operations";
import { presumeRecovered, sendDueRetries } from "./recovery/retries";
import { applyRetention } from "./retention";
import { DUE_KINDS, dueNow, isDueKind, postpone, stillDue, unschedule, type DueKind } from "./scheduler";

/** Armed before any work, so that due work left by a run that throws gets another run. */
const ALARM_SAFETY_MS = 60_000;
/** Due work taken per alarm run; the rest re-arms the alarm at once. */
const DUE_PER_RUN = 500;
/** How long work of a kind this code does not know waits. */
const UNKNOWN_KIND_WAIT_MS = 60_000;

type Handler = (core: LedgerCore, keys: string[], now: number) => Promise<void> | void;

const isDestination = (key: string): key is Destination => (DESTINATIONS as readonly string[]).includes(key);

const handlers: Record<DueKind, Handler> = {
  flush: async (core, _keys, now) => void (await flush(core, now)),
  retention: (core, _keys, now) => void core.transact((c) => applyRetention(c, c.settings.retention, now), now),
  "d1-retention": (core, _keys, now) => pruneD1(core, now),
  operation: async (core, ids, now) => {
    for (const id of ids) await stepOperation(core, id, now);
  },
  deliver: async (core, destinations, now) => {
    for (const destination of destinations) {
      if (isDestination(destination)) await runDeliveries(core, destination, now);
      else core.transact((c) => unschedule(c.sql, "deliver", destination), now);
    }
  },
  digest: (core, users, now) => core.transact((c) => users.forEach((user) => digestFor(c, user)), now),
  resolve: (core, alerts, now) => core.transact((c) => alerts.forEach((alert) => resolveIfQuiet(c, alert)), now),
  presume: (core, jobs, now) => core.transact((c) => presumeRecovered(c, jobs), now),
  retry: (core, jobs, now) => sendDueRetries(core, jobs, now),
};

export async function runDueWork(core: LedgerCore): Promise<void> {
  const now = core.now();
  await core.storage.setAlarm(now + ALARM_SAFETY_MS);
  faultPoint("alarm", core.tenant);
  const due = new Map<DueKind, string[]>();
  for (const work of dueNow(core.sql, now, DUE_PER_RUN)) {
    if (isDueKind(work.kind)) due.set(work.kind, [...(due.get(work.kind) ?? []), work.key]);
    else {
      console.warn(`ledger ${core.tenant}: unknown due work "${work.kind}", deferred`);
      core.transact((c) => postpone(c.sql, work.kind, work.key, now + UNKNOWN_KIND_WAIT_MS), now);
    }
  }
  for (const kind of DUE_KINDS) {
    // Read again: a step before may have done or moved some of it (a bulk requeue unschedules
    // the job's retry and presumption; sending them after it would send the job twice).
    const keys = due.has(kind) ? stillDue(core.sql, kind, due.get(kind)!, now) : [];
    if (keys.length > 0) await handlers[kind](core, keys, now);
  }
}
