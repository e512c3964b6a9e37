// FailureLedger: one Durable Object per tenant, the live record of its failures. It exposes
// typed RPC methods; every write runs in one transactionSync and re-arms the single alarm.

import { DurableObject } from "cloudflare:workers";
import { readConfig } from "../config";
import { faultPoint } from "../faults";
import type { FailureInput } from "../model";
import { SinkError } from "../sinks/errors";
import { counterKey, readCounters, type CounterSnapshot } from "./counters";
import { flushOutbox, type FlushReport } from "./flush";
import { outboxDepth, reserveOutboxIds, writeOutbox } from "./outbox";
import { getFailure, listFailures, listGroups, type FailureDetail, type FailurePage, type FailureQuery, type GroupSummary } from "./queries";
import { recordFailures, type RecordResult } from "./record";
import { afterRecord, applyRetention, type RetentionPolicy } from "./retention";
import { dueNow, rearm, scheduleAt, scheduleIfAbsent, unschedule } from "./scheduler";
import { migrate } from "./schema";
import { readState, readStates, writeState } from "./state";

export interface OutboxHealth {
  pendingRows: number;
  oldestPendingAgeMs: number | null;
  lastFlushAt: string | null;
  lastFlushError: { message: string; at: string } | null;
  consecutiveFlushFailures: number;
}

export interface LedgerStats extends CounterSnapshot {
  tenant: string;
  outbox: OutboxHealth;
}

const ALARM_SAFETY_MS = 60_000;

/** Flush retries back off from 2 s to 5 min. */
const flushBackoffMs = (failures: number) => Math.min(300_000, 1000 * 2 ** Math.min(failures, 9));

export class FailureLedger extends DurableObject<Env> {
  /** Time source; tests replace it to move the rolling window and retention. */
  clock: () => number = () => Date.now();
  retention: RetentionPolicy;
  flushDelayMs: number;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = readConfig(env);
    this.retention = config.retention;
    this.flushDelayMs = config.flushDelayMs;
    migrate(ctx.storage);
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** The tenant this ledger belongs to: its name, kept in storage because alarms run without one. */
  get tenant(): string {
    return readState(this.sql, "tenant") ?? this.ctx.id.name ?? this.ctx.id.toString();
  }

  /** Records a batch of failures; resolves once they and their outbox rows are durable. */
  async record(failures: FailureInput[]): Promise<RecordResult> {
    const now = this.clock();
    const tenant = this.tenant;
    const result = this.ctx.storage.transactionSync(() => {
      faultPoint("ledger.record.before-commit", tenant);
      if (this.ctx.id.name && readState(this.sql, "tenant") === null) writeState(this.sql, "tenant", this.ctx.id.name);
      const { firstId, lastId } = reserveOutboxIds(this.sql, failures.length);
      const { result, accepted } = recordFailures(this.sql, failures, now, lastId);
      if (accepted.length > 0) {
        writeOutbox(this.sql, firstId, now, accepted.map((f) => ({ ...f, tenantId: tenant, recordedAt: now })));
        scheduleIfAbsent(this.sql, "flush", "outbox", now + this.flushDelayMs);
      }
      afterRecord(this.sql, this.retention, now);
      return result;
    });
    await rearm(this.ctx.storage);
    faultPoint("ledger.record.after-commit", tenant);
    return result;
  }

  async stats(): Promise<LedgerStats> {
    const now = this.clock();
    const state = readStates(this.sql);
    const depth = outboxDepth(this.sql);
    return {
      tenant: this.tenant,
      ...readCounters(this.sql, now),
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
    };
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
    // Armed before any work: if this run throws, even past the platform's last retry, the due
    // work still in the table gets another run. The final rearm below replaces it.
    await this.ctx.storage.setAlarm(now + ALARM_SAFETY_MS);
    faultPoint("alarm", this.tenant);
    for (const work of dueNow(this.sql, now)) {
      switch (work.kind) {
        case "flush":
          await this.flush(now);
          break;
        case "retention":
          this.ctx.storage.transactionSync(() => applyRetention(this.sql, this.retention, now));
          break;
        default:
          // Written by newer code running side by side during a deploy: leave it for that code.
          console.warn(`ledger ${this.tenant}: unknown due work "${work.kind}", deferred`);
          scheduleAt(this.sql, work.kind as never, work.key, now + 60_000);
      }
    }
    await rearm(this.ctx.storage);
  }

  /**
   * One flush pass. A sink failure is expected: it is recorded for the stats and retried with
   * backoff from the due-work table. Anything else is a bug and is thrown for the platform to retry.
   */
  private async flush(now: number): Promise<FlushReport | null> {
    const sql = this.sql;
    let report: FlushReport;
    try {
      report = await flushOutbox({ storage: this.ctx.storage, env: this.env, tenant: this.tenant, epoch: this.epoch(), now });
    } catch (error) {
      if (!(error instanceof SinkError)) throw error;
      const failures = Number(readState(sql, "flush_failures") ?? 0) + 1;
      console.error(`ledger ${this.tenant}: flush failed (${failures} in a row), will retry`, error.message);
      this.ctx.storage.transactionSync(() => {
        writeState(sql, "flush_failures", failures);
        writeState(sql, "last_flush_error", error.message.slice(0, 1000));
        writeState(sql, "last_flush_error_at", now);
        scheduleAt(sql, "flush", "outbox", now + flushBackoffMs(failures));
      });
      return null;
    }
    this.ctx.storage.transactionSync(() => {
      writeState(sql, "flush_failures", 0);
      writeState(sql, "last_flush_error", null);
      writeState(sql, "last_flush_at", now);
      for (const [key, value] of [
        [counterKey.flushes, 1],
        [counterKey.archivedOccurrences, report.occurrences],
        [counterKey.segments, report.segmentKey ? 1 : 0],
        [counterKey.d1RowsWritten, report.d1RowsWritten],
      ] as const) {
        if (value > 0) {
          sql.exec(
            `INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value`,
            key,
            value,
          );
        }
      }
      if (outboxDepth(sql).pendingRows > 0) scheduleAt(sql, "flush", "outbox", now);
      else unschedule(sql, "flush", "outbox");
      // rows that were waiting for this flush may leave now
      applyRetention(sql, this.retention, now);
    });
    return report;
  }

  private epoch(): string {
    let epoch = readState(this.sql, "epoch");
    if (!epoch) {
      epoch = crypto.randomUUID().slice(0, 8);
      writeState(this.sql, "epoch", epoch);
    }
    return epoch;
  }
}
