// FailureLedger: one Durable Object per tenant, the live record of its failures. It exposes
// typed RPC methods; every write runs in one transactionSync and re-arms the single alarm.

import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config";
import { faultPoint } from "../faults";
import type { FailureInput } from "../model";
import { readCounters, type CounterSnapshot } from "./counters";
import { getFailure, listFailures, listGroups, type FailureDetail, type FailurePage, type FailureQuery, type GroupSummary } from "./queries";
import { recordFailures, type RecordResult } from "./record";
import { afterRecord, applyRetention, type RetentionPolicy } from "./retention";
import { dueNow, rearm, scheduleAt } from "./scheduler";
import { migrate } from "./schema";

export interface LedgerStats extends CounterSnapshot {
  tenant: string;
}

export class FailureLedger extends DurableObject<Env> {
  /** Time source; tests replace it to move the rolling window and retention. */
  clock: () => number = () => Date.now();
  retention: RetentionPolicy;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.retention = readConfig(env).retention;
    migrate(ctx.storage);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  get tenant(): string {
    return this.ctx.id.name ?? this.ctx.id.toString();
  }

  /** Records a batch of failures; resolves once they are durable. Idempotent per occurrence. */
  async record(failures: FailureInput[]): Promise<RecordResult> {
    const now = this.clock();
    const result = this.ctx.storage.transactionSync(() => {
      faultPoint("ledger.record.before-commit", this.tenant);
      const r = recordFailures(this.sql, failures, now);
      afterRecord(this.sql, this.retention, now);
      return r;
    });
    await rearm(this.ctx.storage);
    faultPoint("ledger.record.after-commit", this.tenant);
    return result;
  }

  async stats(): Promise<LedgerStats> {
    return { tenant: this.tenant, ...readCounters(this.sql, this.clock()) };
  }

  async listFailures(query: FailureQuery): Promise<FailurePage> {
    return listFailures(this.sql, this.tenant, query);
  }

  async getFailure(jobId: string): Promise<FailureDetail | null> {
    return getFailure(this.sql, this.tenant, jobId);
  }

  async listGroups(limit: number): Promise<GroupSummary[]> {
    return listGroups(this.sql, limit);
  }

  override async alarm(): Promise<void> {
    const now = this.clock();
    for (const work of dueNow(this.sql, now)) {
      this.ctx.storage.transactionSync(() => {
        switch (work.kind) {
          case "retention":
            applyRetention(this.sql, this.retention, now);
            break;
          default:
            // Written by newer code running side by side during a deploy: leave it for that code.
            console.warn(`ledger ${this.tenant}: unknown due work "${work.kind}", deferred`);
            scheduleAt(this.sql, work.kind as never, work.key, now + 60_000);
        }
      });
    }
    await rearm(this.ctx.storage);
  }
}
