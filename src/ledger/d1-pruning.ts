// D1 retention, run by the ledger for its own tenant: one bounded pass over the tenant's D1
// rows at a time, counted; a refused pass is tried again later.

import { SinkError } from "../sink-error";
import type { LedgerCore } from "./core";
import { counterKey } from "./aggregates/counters";
import { D1_RETENTION_EVERY_MS } from "./flush";
import { scheduleAt, unschedule } from "./scheduler";
import { readState } from "./state";

const D1_RETENTION_RETRY_MS = 10 * 60 * 1000;

export async function pruneD1(core: LedgerCore, now: number): Promise<void> {
  const policy = core.settings.d1;
  let pass: { deleted: number; more: boolean };
  try {
    pass = await core.sinks.pruneD1(core.tenant, policy, now);
  } catch (error) {
    if (!(error instanceof SinkError)) throw error;
    console.error(`ledger ${core.tenant}: D1 retention failed, will retry`, error.message);
    core.transact((c) => scheduleAt(c.sql, "d1-retention", "d1", now + D1_RETENTION_RETRY_MS), now);
    return;
  }
  core.transact((c) => {
    c.deltas.add(counterKey.d1Evicted, pass.deleted);
    // A full pass left more behind. Otherwise look again while rows flushed within the age
    // window may still age out; a tenant quiet for longer has nothing left to prune.
    const lastFlushAt = Number(readState(c.sql, "last_flush_at") ?? 0);
    if (pass.more) scheduleAt(c.sql, "d1-retention", "d1", now);
    else if (lastFlushAt > now - policy.maxAgeMs) scheduleAt(c.sql, "d1-retention", "d1", now + D1_RETENTION_EVERY_MS);
    else unschedule(c.sql, "d1-retention", "d1");
  }, now);
}
