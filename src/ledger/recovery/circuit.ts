// A circuit breaker per origin queue. Recovery retries of a queue that keep failing within a
// window open it: retries of that queue are held. After a cooldown one probe goes through
// (half-open); the probe's recovery closes it, its failure opens it again.

import { run, sql } from "../../sql";

export type CircuitState = "closed" | "open" | "half_open";

export interface CircuitSettings {
  threshold: number;
  windowMs: number;
  cooldownMs: number;
}

type CircuitRow = {
  queue: string;
  state: CircuitState;
  failures: string;
  opened_at: number | null;
  probe_job: string | null;
};

export interface CircuitView {
  state: CircuitState;
  recentFailures: number;
  openedAt: string | null;
  probeJobId: string | null;
}

export type Admission = { send: true } | { send: false; until: number };

function read(storage: SqlStorage, queue: string): CircuitRow {
  return (
    run<CircuitRow>(storage, sql`SELECT queue, state, failures, opened_at, probe_job FROM circuits WHERE queue = ${queue}`).toArray()[0] ?? {
      queue,
      state: "closed",
      failures: "[]",
      opened_at: null,
      probe_job: null,
    }
  );
}

function write(storage: SqlStorage, row: CircuitRow, now: number): void {
  run(
    storage,
    sql`INSERT INTO circuits (queue, state, failures, opened_at, probe_job, updated_at)
      VALUES (${row.queue}, ${row.state}, ${row.failures}, ${row.opened_at}, ${row.probe_job}, ${now})
      ON CONFLICT (queue) DO UPDATE SET state = excluded.state, failures = excluded.failures,
        opened_at = excluded.opened_at, probe_job = excluded.probe_job, updated_at = excluded.updated_at`,
  );
}

export class Circuits {
  constructor(
    private readonly storage: SqlStorage,
    private readonly settings: CircuitSettings,
  ) {}

  /** May a retry of `jobId` go to `queue` now? Opening to half-open picks this job as the probe. */
  admit(queue: string, jobId: string, now: number): Admission {
    const c = read(this.storage, queue);
    if (c.state === "closed") return { send: true };
    if (c.state === "half_open") return c.probe_job === jobId ? { send: true } : { send: false, until: now + this.settings.cooldownMs };
    const reopensAt = (c.opened_at ?? now) + this.settings.cooldownMs;
    if (now < reopensAt) return { send: false, until: reopensAt };
    write(this.storage, { ...c, state: "half_open", probe_job: jobId }, now);
    return { send: true };
  }

  /** A job dead-lettered again after a recovery retry. */
  failed(queue: string, jobId: string, now: number): void {
    const c = read(this.storage, queue);
    if (c.state === "half_open") {
      if (c.probe_job === jobId) write(this.storage, { ...c, state: "open", opened_at: now, probe_job: null }, now);
      return;
    }
    if (c.state === "open") return;
    const recent = [...(JSON.parse(c.failures) as number[]).filter((t) => t > now - this.settings.windowMs), now].slice(-this.settings.threshold);
    if (recent.length >= this.settings.threshold) write(this.storage, { ...c, state: "open", failures: "[]", opened_at: now, probe_job: null }, now);
    else write(this.storage, { ...c, failures: JSON.stringify(recent) }, now);
  }

  /** A retried job recovered (reported, or presumed after a quiet period). */
  recovered(queue: string, jobId: string, now: number): void {
    const c = read(this.storage, queue);
    if (c.state === "half_open" && c.probe_job === jobId) write(this.storage, { ...c, state: "closed", failures: "[]", opened_at: null, probe_job: null }, now);
  }

  /** The probe was taken out of automatic recovery by a person: the next due retry probes instead. */
  release(queue: string, jobId: string, now: number): void {
    const c = read(this.storage, queue);
    if (c.state === "half_open" && c.probe_job === jobId) {
      write(this.storage, { ...c, state: "open", opened_at: now - this.settings.cooldownMs, probe_job: null }, now);
    }
  }

  view(now: number): Record<string, CircuitView> {
    const out: Record<string, CircuitView> = {};
    for (const c of run<CircuitRow>(this.storage, sql`SELECT queue, state, failures, opened_at, probe_job FROM circuits`)) {
      out[c.queue] = {
        state: c.state,
        recentFailures: (JSON.parse(c.failures) as number[]).filter((t) => t > now - this.settings.windowMs).length,
        openedAt: c.opened_at === null ? null : new Date(c.opened_at).toISOString(),
        probeJobId: c.probe_job,
      };
    }
    return out;
  }
}
