// The ledger's working parts behind its RPC shell: storage, env, setup, the live feed, and the
// two steps every write path takes. transact() runs one Change in one transactionSync and
// commits it; settle(), at the end of each RPC call or alarm run, re-arms the single alarm to the
// earliest due work and tells live sockets what the committed changes touched.

import type { LedgerSinks } from "../model";
import { Change, type LiveChange } from "./change";
import { LiveFeed } from "./live/feed";
import { rearm } from "./scheduler";
import { tuned, type LedgerSetup, type LedgerSettings, type Tuning } from "./setup";
import { readState, writeState } from "./state";
import { readStats } from "./stats";
import { FailureStore } from "./store";

export class LedgerCore {
  readonly live: LiveFeed;
  private committed: LiveChange[] = [];
  private dirty = false;

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
    readonly sinks: LedgerSinks,
    private setup: LedgerSetup,
  ) {
    this.live = new LiveFeed(ctx, { sql: this.sql, tenant: () => this.tenant, now: () => this.now(), stats: async () => readStats(this) });
  }

  get storage(): DurableObjectStorage {
    return this.ctx.storage;
  }

  get sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** The failures, for reads outside a change (a change writes through its own, `c.store`). */
  get store(): FailureStore {
    return FailureStore.readOnly(this.sql, this.setup.mechanisms);
  }

  get settings(): LedgerSettings {
    return this.setup.settings;
  }

  now(): number {
    return this.setup.clock();
  }

  /** The tenant this ledger belongs to: its name, kept in storage because alarms run without one. */
  get tenant(): string {
    return readState(this.sql, "tenant") ?? this.ctx.id.name ?? this.ctx.id.toString();
  }

  /** Runs `step` as one change, in one transaction: all of it is durable, with what it owes, or none of it. */
  transact<T>(step: (c: Change) => T, now = this.now()): T {
    return this.storage.transactionSync(() => {
      const c = new Change(this.sql, this.env, this.tenant, this.setup, now);
      const result = step(c);
      c.commit();
      this.committed.push(c.live);
      this.dirty = true;
      return result;
    });
  }

  /** The end of an RPC call or alarm run: the alarm re-armed, then live sockets told. */
  async settle(): Promise<void> {
    await rearm(this.storage);
    if (!this.dirty) return;
    const changes = this.committed;
    this.committed = [];
    this.dirty = false;
    this.live.changed(() => ({
      jobs: changes.flatMap((c) => c.jobs ?? []),
      groups: changes.flatMap((c) => c.groups ?? []),
      operations: changes.flatMap((c) => c.operations ?? []),
    }));
  }

  /** `work` (any number of changes), then settle(), whether or not it succeeded. */
  async run<T>(work: () => T | Promise<T>): Promise<T> {
    try {
      return await work();
    } finally {
      await this.settle();
    }
  }

  /** Records the name the ledger was reached by (alarms run without one). */
  rememberTenant(): void {
    if (this.ctx.id.name && readState(this.sql, "tenant") === null) writeState(this.sql, "tenant", this.ctx.id.name);
  }

  /** The archive epoch: R2 segment names of this ledger's lifetime carry it. */
  epoch(): string {
    let epoch = readState(this.sql, "epoch");
    if (!epoch) {
      epoch = crypto.randomUUID().slice(0, 8);
      writeState(this.sql, "epoch", epoch);
    }
    return epoch;
  }

  /** Only a development stack (DEV_ROUTES) can retune a running ledger. */
  tune(tuning: Tuning): void {
    if (!this.setup.settings.devRoutes) throw new Error("a ledger can only be tuned where DEV_ROUTES is true");
    this.setup = tuned(this.setup, tuning);
  }
}
