// FailureLedger: one Durable Object per tenant, the live record of its failures. It exposes
// typed RPC methods; every write runs in one transactionSync and re-arms the single alarm.

import { DurableObject } from "cloudflare:workers";
import type { LedgerStats } from "../api/schemas";
import { readConfig, type NotifyConfig, type RecoveryConfig } from "../config";
import { faultPoint } from "../faults";
import type { Destination, FailureInput, UserNotice } from "../model";
import type { Same } from "../same";
import { SinkError, inSink } from "../sink-error";
import { D1_PRUNE_CHUNK, pruneTenant, type D1Retention } from "../sinks/d1-retention";
import { shardFor } from "../sinks/shards";
import { addToCounters, CounterDeltas, counterKey, readCounter, readCounters } from "./counters";
import { deliveryHealth, runDeliveries, type DeliveryHealth } from "./notify/deliveries";
import { alertsForBatch, raise, resolve, resolveIfQuiet, type OpsContext } from "./notify/ops";
import { digestFor, noticeForFailure, saveBuckets } from "./notify/users";
import { flushOutbox, type FlushReport } from "./flush";
import { LiveFeed } from "./live/feed";
import { issueTicket, type LiveGrant } from "./live/tickets";
import { outboxDepth, reserveOutboxIds, touchOutbox, writeOutbox } from "./outbox";
import { getFailure, listFailures, listGroups, type FailureDetail, type FailurePage, type FailureQuery, type GroupSummary } from "./queries";
import { recordFailures, type RecordResult } from "./record";
import { Circuits, type CircuitView } from "./recovery/circuit";
import type { RecoveryContext } from "./recovery/context";
import { abandonOne, history, requeueOne, type ActionEntry } from "./recovery/manual";
import { isRefusal, Refused, type Refusable } from "./refusal";
import { preview, recentOperations, startOperation, stepOperation, viewOperation, type OperationRequest, type OperationView } from "./recovery/operations";
import { planOccurrence } from "./recovery/planner";
import { prepareReplacement, type Replacement } from "./recovery/replace";
import { markRecovered, presumeRecovered, sendDueRetries } from "./recovery/retries";
import { afterRecord, applyRetention, type RetentionPolicy } from "./retention";
import { dueNow, rearm, scheduleAt, scheduleIfAbsent, unschedule } from "./scheduler";
import { migrate } from "./schema";
import { TENANT_SCOPE, readSeries, withSparklines, type Series } from "./series";
import { readState, readStates, writeState } from "./state";

// The stats are the API's LedgerStats (one source: src/api/schemas.ts); the parts assembled
// from other modules' types are proven to fit it exactly.
const sameCircuits: Same<LedgerStats["circuits"][string], CircuitView> = true;
const sameDeliveries: Same<Omit<LedgerStats["notifications"]["deliveries"], "sent" | "failures" | "dropped">, DeliveryHealth> = true;
void sameCircuits;
void sameDeliveries;


const ALARM_SAFETY_MS = 60_000;
/** How often D1 retention looks at a tenant that keeps flushing, and how soon after a refusal. */
const D1_RETENTION_EVERY_MS = 60 * 60 * 1000;
const D1_RETENTION_RETRY_MS = 10 * 60 * 1000;
/** Due work taken per alarm run; the rest re-arms the alarm at once. */
const DUE_PER_RUN = 500;

/** Flush retries back off from 2 s to 5 min. */
const flushBackoffMs = (failures: number) => Math.min(300_000, 1000 * 2 ** Math.min(failures, 9));

export class FailureLedger extends DurableObject<Env> {
  /** Time source; tests replace it to move the rolling window, retention and recovery. */
  clock: () => number = () => Date.now();
  /** Jitter source; tests replace it with a seeded one. */
  random: () => number = Math.random;
  retention: RetentionPolicy;
  d1Retention: D1Retention;
  flushDelayMs: number;
  recovery: RecoveryConfig;
  notify: NotifyConfig;
  live: LiveFeed;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    const config = readConfig(env);
    this.retention = config.retention;
    this.d1Retention = config.d1;
    this.flushDelayMs = config.flushDelayMs;
    this.recovery = config.recovery;
    this.notify = config.notify;
    migrate(ctx.storage);
    this.live = new LiveFeed(ctx, { sql: ctx.storage.sql, tenant: () => this.tenant, now: () => this.clock(), stats: () => this.stats() });
  }

  private get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** The tenant this ledger belongs to: its name, kept in storage because alarms run without one. */
  get tenant(): string {
    return readState(this.sql, "tenant") ?? this.ctx.id.name ?? this.ctx.id.toString();
  }

  private recoveryContext(now: number): RecoveryContext {
    return {
      storage: this.ctx.storage,
      env: this.env,
      config: this.recovery,
      circuits: new Circuits(this.sql, this.recovery.circuit),
      now,
      random: this.random,
      flushAt: now + this.flushDelayMs,
    };
  }

  private opsContext(now: number, deltas: CounterDeltas): OpsContext {
    return { sql: this.sql, notify: this.notify, tenant: this.tenant, now, deltas, buckets: new Map() };
  }

  /** Records a batch of failures; resolves once they and their outbox rows are durable. */
  async record(failures: FailureInput[]): Promise<RecordResult> {
    const now = this.clock();
    const tenant = this.tenant;
    const c = this.recoveryContext(now);
    const result = this.ctx.storage.transactionSync(() => {
      faultPoint("ledger.record.before-commit", tenant);
      if (this.ctx.id.name && readState(this.sql, "tenant") === null) writeState(this.sql, "tenant", this.ctx.id.name);
      const { firstId, lastId } = reserveOutboxIds(this.sql, failures.length);
      const plan = (f: FailureInput, prior: Parameters<typeof planOccurrence>[2]) => planOccurrence({ ...c, sql: this.sql }, f, prior);
      const { result, accepted, occurrences } = recordFailures(this.sql, failures, now, lastId, plan);
      const deltas = new CounterDeltas();
      const ops = this.opsContext(now, deltas);
      const notices: UserNotice[] = [];
      for (const o of occurrences) {
        const notice = o.notifyUser && o.failure.userId ? noticeForFailure(ops, { ...o.failure, userId: o.failure.userId }) : null;
        if (notice) notices.push(notice);
      }
      saveBuckets(ops);
      alertsForBatch(ops, occurrences);
      deltas.apply(this.sql, now);
      if (accepted.length > 0) {
        writeOutbox(
          this.sql,
          firstId,
          now,
          accepted.map(({ sealedBody: _, ...f }) => ({ ...f, tenantId: tenant, recordedAt: now })),
          notices,
        );
        scheduleIfAbsent(this.sql, "flush", "outbox", c.flushAt);
      }
      afterRecord(this.sql, this.retention, now);
      return result;
    });
    await rearm(this.ctx.storage);
    this.live.changed(() => ({ jobs: failures.map((f) => f.jobId), groups: failures.map((f) => f.fingerprint) }));
    faultPoint("ledger.record.after-commit", tenant);
    return result;
  }

  /** The capture helper saw these jobs succeed; returns the ones that were failures here. */
  async reportSucceeded(jobIds: string[]): Promise<string[]> {
    const c = this.recoveryContext(this.clock());
    const recovered = this.ctx.storage.transactionSync(() => markRecovered(c, jobIds, "capture-helper"));
    await rearm(this.ctx.storage);
    if (recovered.length > 0) this.live.changed({ jobs: recovered });
    return recovered;
  }

  /** Sends the job back to its queue: its own body, or `replacement` as given (edit and requeue). */
  async requeue(jobId: string, actor: string, delaySeconds = 0, replacement?: Replacement): Promise<Refusable<FailureDetail>> {
    const prepared = replacement && (await prepareReplacement(this.env, replacement));
    return this.act(jobId, (c) => requeueOne(c, jobId, { actor }, delaySeconds, prepared));
  }

  async abandon(jobId: string, actor: string, reason: string): Promise<Refusable<FailureDetail>> {
    return this.act(jobId, (c) => abandonOne(c, jobId, { actor }, reason));
  }

  private async act(jobId: string, action: (c: RecoveryContext) => Promise<void> | void): Promise<Refusable<FailureDetail>> {
    try {
      await action(this.recoveryContext(this.clock()));
    } catch (error) {
      if (error instanceof Refused) return error.refusal;
      throw error;
    } finally {
      await rearm(this.ctx.storage);
    }
    this.live.changed({ jobs: [jobId] });
    return getFailure(this.sql, this.tenant, jobId)!;
  }

  async previewOperation(request: Pick<OperationRequest, "action" | "filter">): Promise<{ matched: number; sample: string[] }> {
    return preview(this.sql, request);
  }

  async startOperation(request: OperationRequest, actor: string): Promise<Refusable<OperationView>> {
    const started = startOperation(this.recoveryContext(this.clock()), request, actor);
    await rearm(this.ctx.storage);
    if (!isRefusal(started)) this.live.changed({ operations: [started.id] });
    return started;
  }

  async getOperation(id: string): Promise<OperationView | null> {
    return viewOperation(this.sql, id);
  }

  async listOperations(limit: number): Promise<OperationView[]> {
    return recentOperations(this.sql, limit);
  }

  async history(jobId: string): Promise<ActionEntry[]> {
    return history(this.sql, jobId);
  }

  /** The parking queue archived messages: ops should know (called on the quarantine ledger). */
  async parked(queue: string, count: number, sampleKey: string): Promise<void> {
    const now = this.clock();
    this.ctx.storage.transactionSync(() => {
      const deltas = new CounterDeltas();
      raise(this.opsContext(now, deltas), {
        key: `parking:${queue}`,
        severity: "error",
        summary: `${count} message(s) reached the parking queue ${queue}: the DLQ consumer could not record them; archived raw in R2`,
        details: { queue, count, example: sampleKey },
      });
      deltas.apply(this.sql, now);
    });
    await rearm(this.ctx.storage);
    this.live.changed();
  }

  async stats(): Promise<LedgerStats> {
    const now = this.clock();
    const state = readStates(this.sql);
    const depth = outboxDepth(this.sql);
    const counters = readCounters(this.sql, now);
    const count = (key: string) => readCounter(this.sql, key);
    return {
      tenant: this.tenant,
      ...counters,
      notifications: {
        sent: count(counterKey.noticesSent),
        suppressed: count(counterKey.noticesSuppressed),
        digests: count(counterKey.digests),
        alerts: count(counterKey.alerts),
        deliveries: {
          ...deliveryHealth(this.sql, now),
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
      circuits: new Circuits(this.sql, this.recovery.circuit).view(now),
    };
  }

  async listFailures(query: FailureQuery): Promise<FailurePage> {
    return listFailures(this.sql, this.tenant, query);
  }

  async getFailure(jobId: string): Promise<FailureDetail | null> {
    return getFailure(this.sql, this.tenant, jobId);
  }

  /** The groups, each with its failures per hour over the last 24 h (oldest first). */
  async listGroups(limit: number): Promise<(GroupSummary & { sparkline: number[] })[]> {
    return withSparklines(this.sql, listGroups(this.sql, limit), this.clock());
  }

  /** Failures over time, of the tenant or of one group; null for a group this ledger never saw. */
  async series(group?: string): Promise<Series | null> {
    if (group !== undefined && this.sql.exec(`SELECT 1 FROM groups WHERE fingerprint = ?`, group).toArray().length === 0) return null;
    return readSeries(this.sql, group ?? TENANT_SCOPE, this.clock());
  }

  override async alarm(): Promise<void> {
    const now = this.clock();
    // Armed before any work: if this run throws, even past the platform's last retry, the due
    // work still in the table gets another run. The final rearm below replaces it.
    await this.ctx.storage.setAlarm(now + ALARM_SAFETY_MS);
    faultPoint("alarm", this.tenant);
    const c = this.recoveryContext(now);
    const due = dueNow(this.sql, now, DUE_PER_RUN);
    const keysOf = (kind: string) => due.filter((w) => w.kind === kind).map((w) => w.key);
    const changedJobs: string[] = [];

    for (const work of due) {
      switch (work.kind) {
        case "flush":
          await this.flush(now);
          break;
        case "retention":
          this.ctx.storage.transactionSync(() => applyRetention(this.sql, this.retention, now));
          break;
        case "d1-retention":
          await this.pruneD1(now);
          break;
        case "operation":
          changedJobs.push(...(await stepOperation(c, work.key)));
          break;
        case "deliver":
          await runDeliveries({ storage: this.ctx.storage, notify: this.notify, now }, work.key as Destination);
          break;
        case "digest":
          this.ctx.storage.transactionSync(() => {
            const deltas = new CounterDeltas();
            const c = this.opsContext(now, deltas);
            const notice = digestFor(c, work.key);
            saveBuckets(c);
            if (notice) touchOutbox(this.sql, [], now, now + this.flushDelayMs, [notice]);
            deltas.apply(this.sql, now);
          });
          break;
        case "resolve":
          this.ctx.storage.transactionSync(() => resolveIfQuiet(this.opsContext(now, new CounterDeltas()), work.key));
          break;
        case "retry":
        case "presume":
          break; // batched below
        default:
          // Written by newer code running side by side during a deploy: leave it for that code.
          console.warn(`ledger ${this.tenant}: unknown due work "${work.kind}", deferred`);
          scheduleAt(this.sql, work.kind as never, work.key, now + 60_000);
      }
    }
    const presumed = keysOf("presume");
    if (presumed.length > 0) this.ctx.storage.transactionSync(() => presumeRecovered(c, presumed));
    const retries = keysOf("retry");
    if (retries.length > 0) await sendDueRetries(c, retries);
    await rearm(this.ctx.storage);
    this.live.changed(() => ({ jobs: [...changedJobs, ...presumed, ...retries], operations: keysOf("operation") }));
  }

  /** The one fetch of the ledger: a WebSocket Upgrade cannot travel over RPC. The worker checked the request. */
  override async fetch(request: Request): Promise<Response> {
    return this.live.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.live.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.live.closed(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn(`ledger ${this.tenant}: live socket error`, error);
    this.live.closed(ws, 1011, "socket error");
  }

  /** A single-use ticket that opens a live socket on this ledger within a minute. */
  async issueLiveTicket(grant: LiveGrant): Promise<{ ticket: string; expiresAt: number }> {
    return issueTicket(this.sql, grant, this.clock());
  }

  /** The token was revoked: its sockets are closed and its tickets voided. Returns the sockets closed. */
  async closeLive(tokenId: string): Promise<number> {
    return this.live.closeToken(tokenId);
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
        const oldest = outboxDepth(sql).oldestPendingAt;
        if (oldest !== null && now - oldest >= this.notify.outboxStuckAfterMs) {
          const deltas = new CounterDeltas();
          raise(this.opsContext(now, deltas), {
            key: "outbox",
            severity: "critical",
            summary: `the outbox has not reached D1/R2 for ${Math.round((now - oldest) / 1000)} s: ${error.message}`.slice(0, 1024),
            details: { failures, lastError: error.message.slice(0, 500) },
          });
          deltas.apply(sql, now);
        }
      });
      return null;
    }
    this.ctx.storage.transactionSync(() => {
      writeState(sql, "flush_failures", 0);
      writeState(sql, "last_flush_error", null);
      writeState(sql, "last_flush_at", now);
      resolve(this.opsContext(now, new CounterDeltas()), "outbox");
      addToCounters(sql, [
        [counterKey.flushes, 1],
        [counterKey.archivedOccurrences, report.occurrences],
        [counterKey.segments, report.segmentKey ? 1 : 0],
        [counterKey.d1RowsWritten, report.d1RowsWritten],
      ]);
      if (outboxDepth(sql).pendingRows > 0) scheduleAt(sql, "flush", "outbox", now);
      else unschedule(sql, "flush", "outbox");
      // rows that were waiting for this flush may leave now
      applyRetention(sql, this.retention, now);
      if (report.d1RowsWritten > 0) scheduleIfAbsent(sql, "d1-retention", "d1", now + D1_RETENTION_EVERY_MS);
    });
    return report;
  }

  /** One bounded pass of D1 retention over this tenant's rows; a refused pass is tried again later. */
  private async pruneD1(now: number): Promise<void> {
    const sql = this.sql;
    let evicted: number;
    try {
      const db = await inSink("d1", () => shardFor(this.env, this.tenant));
      evicted = await pruneTenant(db, this.tenant, this.d1Retention, now);
    } catch (error) {
      if (!(error instanceof SinkError)) throw error;
      console.error(`ledger ${this.tenant}: D1 retention failed, will retry`, error.message);
      this.ctx.storage.transactionSync(() => scheduleAt(sql, "d1-retention", "d1", now + D1_RETENTION_RETRY_MS));
      return;
    }
    this.ctx.storage.transactionSync(() => {
      addToCounters(sql, [[counterKey.d1Evicted, evicted]]);
      // A full pass left more behind. Otherwise look again while rows flushed within the age
      // window may still age out; a tenant quiet for longer has nothing left to prune.
      const lastFlushAt = Number(readState(sql, "last_flush_at") ?? 0);
      if (evicted >= D1_PRUNE_CHUNK) scheduleAt(sql, "d1-retention", "d1", now);
      else if (lastFlushAt > now - this.d1Retention.maxAgeMs) scheduleAt(sql, "d1-retention", "d1", now + D1_RETENTION_EVERY_MS);
      else unschedule(sql, "d1-retention", "d1");
    });
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
