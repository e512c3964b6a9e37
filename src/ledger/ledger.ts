// The ledger: one Durable Object per tenant, the live record of its failures. This class is its
// RPC shell: each method calls one function of the ledger's modules through LedgerCore, which
// runs every write as one Change in one transaction and re-arms the single alarm after. It is
// deployed as FailureLedger (src/failure-ledger.ts), with the real sinks.

import { DurableObject } from "cloudflare:workers";
import type { LedgerStats } from "../contract/schemas";
import type { FailureInput, LedgerSinks } from "../model";
import { runDueWork } from "./alarm";
import { LedgerCore } from "./core";
import { issueTicket, type LiveGrant } from "./live/tickets";
import { raiseParked } from "./notify/ops";
import { recordBatch, type RecordResult } from "./record";
import { abandonJob, history, requeueJob, type ActionEntry } from "./recovery/manual";
import { recentOperations, viewOperation, type OperationRequest, type OperationView } from "./recovery/operation-views";
import { preview, startOperation } from "./recovery/operations";
import type { Replacement } from "./recovery/replace";
import { markRecovered } from "./recovery/retries";
import { refusing, type Refusable } from "./refusal";
import { migrate } from "./schema";
import { seriesOf, withSparklines, type Series } from "./aggregates/series";
import { setupFor, type LedgerOptions, type Tuning } from "./setup";
import { readStats } from "./stats";
import type { FailureDetail, FailurePage, FailureQuery, GroupHistoryEntry, GroupSummary } from "./store";
import { triageGroup, type TriageAction } from "./triage";

export class Ledger extends DurableObject<Env> {
  private readonly core: LedgerCore;

  constructor(ctx: DurableObjectState, env: Env, sinks: LedgerSinks, options: LedgerOptions = {}) {
    super(ctx, env);
    migrate(ctx.storage);
    this.core = new LedgerCore(ctx, env, sinks, setupFor(env, options));
  }

  /** Records a batch of failures; resolves once they and their outbox rows are durable. */
  async record(failures: FailureInput[]): Promise<RecordResult> {
    return this.core.run(() => recordBatch(this.core, failures));
  }

  /** The capture helper saw these jobs succeed; returns the ones that were failures here. */
  async reportSucceeded(jobIds: string[]): Promise<string[]> {
    return this.core.run(() => this.core.transact((c) => markRecovered(c, jobIds, "capture-helper")));
  }

  /** Sends the job back to its queue: its own body, or `replacement` as given (edit and requeue). */
  async requeue(jobId: string, actor: string, delaySeconds = 0, replacement?: Replacement): Promise<Refusable<FailureDetail>> {
    return this.core.run(() => refusing(() => requeueJob(this.core, jobId, { actor }, delaySeconds, replacement)));
  }

  async abandon(jobId: string, actor: string, reason: string): Promise<Refusable<FailureDetail>> {
    return this.core.run(() => refusing(() => abandonJob(this.core, jobId, { actor }, reason)));
  }

  async previewOperation(request: Pick<OperationRequest, "action" | "filter">): Promise<{ matched: number; sample: string[] }> {
    return preview(this.core.sql, request);
  }

  async startOperation(request: OperationRequest, actor: string): Promise<Refusable<OperationView>> {
    return this.core.run(() => this.core.transact((c) => startOperation(c, request, actor)));
  }

  async getOperation(id: string): Promise<OperationView | null> {
    return viewOperation(this.core.sql, id);
  }

  async listOperations(limit: number): Promise<OperationView[]> {
    return recentOperations(this.core.sql, limit);
  }

  async history(jobId: string): Promise<ActionEntry[]> {
    return history(this.core.sql, jobId);
  }

  /** The parking queue archived messages: ops should know (called on the quarantine ledger). */
  async parked(queue: string, count: number, sampleKey: string): Promise<void> {
    return this.core.run(() => this.core.transact((c) => raiseParked(c, queue, count, sampleKey)));
  }

  async stats(): Promise<LedgerStats> {
    return readStats(this.core);
  }

  async listFailures(query: FailureQuery): Promise<FailurePage> {
    return this.core.store.page(this.core.tenant, query);
  }

  async getFailure(jobId: string): Promise<FailureDetail | null> {
    return this.core.store.failure(this.core.tenant, jobId);
  }

  /** The groups, each with its failures per hour over the last 24 h (oldest first). */
  async listGroups(limit: number): Promise<(GroupSummary & { sparkline: number[] })[]> {
    const now = this.core.now();
    return withSparklines(this.core.sql, this.core.store.groups(limit, now), now);
  }

  /** Resolves, acknowledges or reopens a group; answers it as it now is (unchanged if the action changes nothing). */
  async triageGroup(fingerprint: string, request: TriageAction, actor: string): Promise<Refusable<GroupSummary & { sparkline: number[] }>> {
    return this.core.run(() =>
      refusing(() => {
        this.core.transact((c) => triageGroup(c, fingerprint, request, actor));
        const now = this.core.now();
        return withSparklines(this.core.sql, this.core.store.groupSummaries([fingerprint], now), now)[0]!;
      }),
    );
  }

  /** One group as its page shows it: the group, its newest history entries, its newest failures; null for a group this ledger never saw. */
  async getGroup(fingerprint: string): Promise<{ group: GroupSummary & { sparkline: number[] }; history: GroupHistoryEntry[]; sample: FailurePage["items"] } | null> {
    const store = this.core.store;
    const now = this.core.now();
    const group = withSparklines(this.core.sql, store.groupSummaries([fingerprint], now), now)[0];
    if (!group) return null;
    return { group, history: store.groupHistory(fingerprint, 20), sample: store.page(this.core.tenant, { group: fingerprint, limit: 10 }).items };
  }

  /** A group's history of state changes, newest first: `limit` entries before `beforeSeq`. */
  async groupHistory(fingerprint: string, limit: number, beforeSeq?: number): Promise<GroupHistoryEntry[]> {
    return this.core.store.groupHistory(fingerprint, limit, beforeSeq);
  }

  /** Failures over time, of the tenant or of one group; null for a group this ledger never saw. */
  async series(group?: string): Promise<Series | null> {
    if (group !== undefined && this.core.store.groupFields([group]).length === 0) return null;
    return seriesOf(this.core.sql, group, this.core.now());
  }

  override async alarm(): Promise<void> {
    // Not run(): a run that throws must leave the safety alarm it armed first, not re-arm at the
    // failed work's due time (a hot loop); the platform retries the run as well.
    await runDueWork(this.core);
    await this.core.settle();
  }

  /** The one fetch of the ledger: a WebSocket Upgrade cannot travel over RPC. The worker checked the request. */
  override async fetch(request: Request): Promise<Response> {
    return this.core.live.accept(request);
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    await this.core.live.message(ws, message);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    this.core.live.closed(ws, code, reason);
  }

  override async webSocketError(ws: WebSocket, error: unknown): Promise<void> {
    console.warn(`ledger ${this.core.tenant}: live socket error`, error);
    this.core.live.closed(ws, 1011, "socket error");
  }

  /** A single-use ticket that opens a live socket on this ledger within a minute. */
  async issueLiveTicket(grant: LiveGrant): Promise<{ ticket: string; expiresAt: number }> {
    return issueTicket(this.core.sql, grant, this.core.now());
  }

  /** The token was revoked: its sockets are closed and its tickets voided. Returns the sockets closed. */
  async closeLive(tokenId: string): Promise<number> {
    return this.core.live.closeToken(tokenId);
  }

  /** Retunes this ledger's settings, clock or jitter: a development stack only (DEV_ROUTES). */
  async tune(tuning: Tuning): Promise<void> {
    this.core.tune(tuning);
  }
}
