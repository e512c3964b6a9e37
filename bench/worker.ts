// The bench's worker: the real worker (default handler, FailureLedger, DlqLedgerService) plus
// bench-only classes. bench/vitest.config.ts binds FAILURE_LEDGER to MeteredLedger, a subclass
// that only counts: its SQL cursors, sinks and alarm calls are metered (bench/meter.ts) and its
// clock is the bench's simulated one; record(), alarm() and every read run the real code.

import { DurableObject } from "cloudflare:workers";
import { FailureLedger } from "../src/failure-ledger";
import { Head } from "../src/ledger/head";
import { ALL_MECHANISMS, FailureStore, type FailurePage, type FailureQuery, type Mechanisms } from "../src/ledger/store";
import type { FailureInput } from "../src/model";
import { meterEnv, meterFor, meterStorage, sim, type Meter } from "./meter";

export { default } from "../src/index";
export { DlqLedgerService } from "../src/service";
export { FailureLedger };

/**
 * What the copies of one real row (0.1 % of a ledger filled by copies) are made of: the group,
 * class and status that each match about 0.1 %. The copies of every other UNKNOWN row are
 * SYSTEM_ERROR, so UNKNOWN stays rare.
 */
export const RARE = { group: "00000000000000aa", class: "UNKNOWN", status: "abandoned" } as const;

/** A tenant whose ledger runs with `off` turned off (null: all on), for bench/suites/4-mechanisms. */
export function mechanismTenant(off: keyof Mechanisms | null, suffix: string): string {
  return `mech-${off ?? "none"}-off-${suffix}`;
}

function mechanismsOf(tenant: string | undefined): Partial<Mechanisms> {
  const off = /^mech-(\w+)-off-/.exec(tenant ?? "")?.[1];
  return off && off in ALL_MECHANISMS ? { [off]: false } : {};
}

export class MeteredLedger extends FailureLedger {
  constructor(ctx: DurableObjectState, env: Env) {
    const meter = meterFor(ctx.id.toString());
    meterStorage(ctx.storage, meter);
    super(ctx, meterEnv(env, meter), { clock: () => sim.now, mechanisms: mechanismsOf(ctx.id.name) });
    meter.settle("migrate");
  }

  get meter(): Meter {
    return meterFor(this.ctx.id.toString());
  }

  override async record(failures: FailureInput[]) {
    const meter = this.meter;
    meter.settle("other");
    meter.recordCalls++;
    if (meter.capture) meter.captured.push(...failures);
    try {
      return await super.record(failures);
    } finally {
      meter.settle("record");
    }
  }

  override async alarm(): Promise<void> {
    const meter = this.meter;
    meter.settle("other");
    meter.alarmRuns++;
    try {
      await super.alarm();
    } finally {
      meter.settle("alarm");
    }
  }

  /** A failures page read as if the store had these mechanisms (the data stays as written). */
  async listFailuresWith(mechanisms: Partial<Mechanisms>, query: FailureQuery): Promise<FailurePage> {
    return FailureStore.readOnly(this.ctx.storage.sql, { ...ALL_MECHANISMS, ...mechanisms }).page(this.ctx.id.name ?? "", query);
  }

  /** The trivial RPC that read latencies are compared with. */
  async ping(): Promise<number> {
    return 1;
  }

  async databaseSize(): Promise<number> {
    return this.ctx.storage.sql.databaseSize;
  }

  /**
   * Grows the ledger to `target` failures by direct SQL, not through record(): copies of the rows
   * the real path wrote (every column, so the same sizes), with new job ids and older times, and
   * the counters stats() reads moved to match, and the order lists rebuilt from the failures.
   * The copies of the first real row are RARE. Only the read-latency bench uses this.
   */
  async fillCopies(target: number): Promise<{ inserted: number; total: number }> {
    const sql = this.ctx.storage.sql;
    const columns = sql.exec<{ name: string }>(`PRAGMA table_info(failures)`).toArray().map((c) => c.name);
    // the rows the real path wrote: the workload's job ids all start "job-"
    const real = `job_id >= 'job-' AND job_id < 'job.'`;
    const templates = sql
      .exec<{ job_id: string; class: string; status: string; queue: string; occurrences: number; attempts: number; last_failed_at: number }>(
        `SELECT job_id, class, status, queue, occurrences, attempts, last_failed_at FROM failures WHERE ${real} ORDER BY job_id`,
      )
      .toArray();
    if (templates.length === 0) throw new Error("fillCopies needs rows recorded through the real path first");
    const have = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM failures`).one().n;
    const oldest = sql.exec<{ at: number }>(`SELECT MIN(last_failed_at) AS at FROM failures`).one().at;
    const newest = Math.max(...templates.map((t) => t.last_failed_at));
    const span = newest - Math.min(...templates.map((t) => t.last_failed_at)) + 1000;
    // copy c of template t is dated t's time - shift - c * span: every copy older than all before it
    const shift = newest - oldest + 1000;
    const call = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
    const rareJob = templates[0]!.job_id;
    const copied = (t: (typeof templates)[number]) =>
      t.job_id === rareJob ? RARE : { group: null, class: t.class === RARE.class ? "SYSTEM_ERROR" : t.class, status: t.status };
    const rare = `t.job_id = '${rareJob}'`;
    const expr = (c: string) => {
      if (c === "group_fp") return `CASE WHEN ${rare} THEN '${RARE.group}' ELSE t.group_fp END`;
      if (c === "class") return `CASE WHEN ${rare} THEN '${RARE.class}' WHEN t.class = '${RARE.class}' THEN 'SYSTEM_ERROR' ELSE t.class END`;
      if (c === "status") return `CASE WHEN ${rare} THEN '${RARE.status}' ELSE t.status END`;
      if (c === "job_id") return `'fill-' || ? || '-' || copies.c || '-' || t.job_id`;
      if (c === "last_failed_at") return `t.last_failed_at - ? - copies.c * ?`;
      if (c === "first_failed_at") return `t.first_failed_at - ? - copies.c * ?`;
      if (c === "recent_keys") return `'["fill:' || copies.c || '"]'`;
      if (c === "outbox_seq") return `0`;
      return `t.${c}`;
    };
    const params = columns.flatMap((c): (string | number)[] => (c === "job_id" ? [call] : c === "last_failed_at" || c === "first_failed_at" ? [shift, span] : []));
    const insert = `INSERT INTO failures (${columns.join(", ")})
      WITH RECURSIVE copies(c) AS (SELECT ? UNION ALL SELECT c + 1 FROM copies WHERE c < ?)
      SELECT ${columns.map(expr).join(", ")}
      FROM copies CROSS JOIN (SELECT * FROM failures WHERE ${real}) AS t
      ORDER BY copies.c, t.job_id LIMIT ?`;

    const inserted = Math.max(0, target - have);
    const counters = new Map<string, number>();
    const bump = (key: string, by = 1) => counters.set(key, (counters.get(key) ?? 0) + by);
    const copiesPerChunk = Math.max(1, Math.floor(100_000 / templates.length));
    for (let done = 0; done < inserted; ) {
      const firstCopy = Math.floor(done / templates.length);
      const rows = Math.min(inserted - done, copiesPerChunk * templates.length);
      const lastCopy = firstCopy + Math.ceil(rows / templates.length) - 1;
      this.ctx.storage.transactionSync(() => sql.exec(insert, firstCopy, lastCopy, ...params, rows));
      for (let i = 0; i < rows; i++) {
        const t = templates[i % templates.length]!;
        const c = copied(t);
        bump("total");
        bump("rows");
        bump("occurrences", t.occurrences);
        bump("attempts_sum", t.attempts);
        bump(`class:${c.class}`);
        bump(`status:${c.status}`);
        bump(`queue:${t.queue}`);
        if (c.group) bump("rare_group");
      }
      done += rows;
    }
    const rareCopies = counters.get("rare_group") ?? 0;
    counters.delete("rare_group");
    this.ctx.storage.transactionSync(() => {
      sql.exec(
        `INSERT INTO groups (fingerprint, queue, class, error_name, message_sample, sample_job_id, count, first_seen, last_seen)
         SELECT ?, queue, ?, 'Error', 'a rare failure', job_id, ?, first_failed_at, last_failed_at FROM failures WHERE job_id = ?
         ON CONFLICT (fingerprint) DO UPDATE SET count = count + excluded.count`,
        RARE.group,
        RARE.class,
        rareCopies,
        rareJob,
      );
      const head = Head.read(sql);
      new FailureStore(sql, { tails: () => head.tails }).rebuildOrder(sim.now);
      for (const [key, delta] of counters) head.aggregates.addToCounter(key, delta);
      head.save();
    });
    this.meter.settle("fill");
    return { inserted, total: have + inserted };
  }
}

/** The throughput baseline: a bare loop of plain single-row INSERTs of the same rows, nothing else. */
export class BareInserts extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS failures (
      job_id TEXT PRIMARY KEY, user_id TEXT, queue TEXT NOT NULL, class TEXT NOT NULL, reason TEXT NOT NULL,
      status TEXT NOT NULL, attempts INTEGER NOT NULL, occurrences INTEGER NOT NULL, group_fp TEXT NOT NULL,
      error TEXT, body TEXT NOT NULL, body_encoding TEXT NOT NULL, first_failed_at INTEGER NOT NULL,
      last_failed_at INTEGER NOT NULL, recent_keys TEXT NOT NULL
    ) WITHOUT ROWID`);
  }

  async insert(rows: FailureInput[]): Promise<number> {
    const sql = this.ctx.storage.sql;
    for (const f of rows) {
      sql.exec(
        `INSERT INTO failures (job_id, user_id, queue, class, reason, status, attempts, occurrences, group_fp, error, body,
           body_encoding, first_failed_at, last_failed_at, recent_keys)
         VALUES (?, ?, ?, ?, ?, 'open', ?, 1, ?, ?, ?, ?, ?, ?, ?)`,
        f.jobId,
        f.userId ?? null,
        f.queue,
        f.class,
        f.reason,
        f.attempts,
        f.fingerprint,
        f.error ? JSON.stringify(f.error) : null,
        f.body,
        f.bodyEncoding,
        f.firstFailedAt,
        f.lastFailedAt,
        JSON.stringify([f.occurrenceKey]),
      );
    }
    return rows.length;
  }

  async ping(): Promise<number> {
    return 1;
  }
}
