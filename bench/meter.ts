// Counting billed units from outside the code under test: the ledger's SQL cursors, and the D1,
// R2 and Analytics Engine bindings it is handed, are wrapped before the real code sees them.
// Nothing here changes what the code does; it only counts.

/** "INSERT failures", "UPDATE outbox" …: what a statement does to which table, for the breakdowns. */
export function statementKind(query: string): string {
  const q = query.replace(/\s+/g, " ").trim();
  const verb = (q.split(" ")[0] ?? "").toUpperCase();
  const table = /\b(?:INTO|UPDATE|FROM|TABLE(?: IF NOT EXISTS)?|ON)\s+([A-Za-z_][A-Za-z0-9_]*)/i.exec(q)?.[1] ?? "?";
  return `${verb} ${table}`;
}

export interface RowCount {
  written: number;
  read: number;
  statements: number;
}

/** Everything one Durable Object (or the seed's consumer) was billed for. */
export class Meter {
  recordCalls = 0;
  alarmRuns = 0;
  setAlarmCalls = 0;
  deleteAlarmCalls = 0;
  /** When the object's alarm is set for (tracked from setAlarm/deleteAlarm). */
  alarmAt: number | null = null;
  /** DO SQLite rows, by the method that ran the statements. */
  sql: Record<string, RowCount> = {};
  /** DO SQLite rows written, by label and statement kind (only kinds that wrote). */
  sqlWrittenBy: Record<string, Record<string, number>> = {};
  d1 = { batches: 0, statements: 0, rowsWritten: 0, rowsRead: 0 };
  d1WrittenBy: Record<string, number> = {};
  r2 = { classA: 0, classB: 0, puts: 0, bytesPut: 0 };
  /** Data points, and the occurrences they say they stand for (double2, in both designs' layout). */
  analytics = { points: 0, occurrences: 0 };
  /** Off where time is measured (the throughput suite): the ledger then runs as deployed, uncounted. */
  tracking = true;
  /** Rows a record() call received, kept only while `capture` is on (the throughput baseline reuses them). */
  capture = false;
  captured: unknown[] = [];
  private pending: [string, SqlStorageCursor<Record<string, SqlStorageValue>>][] = [];

  track(query: string, cursor: SqlStorageCursor<Record<string, SqlStorageValue>>): void {
    this.pending.push([query, cursor]);
  }

  /** Adds up the cursors of the statements run since the last settle, under `label`. */
  settle(label: string): void {
    const count = (this.sql[label] ??= { written: 0, read: 0, statements: 0 });
    const by = (this.sqlWrittenBy[label] ??= {});
    for (const [query, cursor] of this.pending) {
      count.written += cursor.rowsWritten;
      count.read += cursor.rowsRead;
      count.statements++;
      if (cursor.rowsWritten > 0) {
        const kind = statementKind(query);
        by[kind] = (by[kind] ?? 0) + cursor.rowsWritten;
      }
    }
    this.pending = [];
  }

  sqlTotal(): RowCount {
    const total: RowCount = { written: 0, read: 0, statements: 0 };
    for (const c of Object.values(this.sql)) {
      total.written += c.written;
      total.read += c.read;
      total.statements += c.statements;
    }
    return total;
  }

  snapshot() {
    return {
      recordCalls: this.recordCalls,
      alarmRuns: this.alarmRuns,
      setAlarmCalls: this.setAlarmCalls,
      deleteAlarmCalls: this.deleteAlarmCalls,
      sql: structuredClone(this.sql),
      sqlWrittenBy: structuredClone(this.sqlWrittenBy),
      sqlTotal: this.sqlTotal(),
      d1: { ...this.d1 },
      d1WrittenBy: { ...this.d1WrittenBy },
      r2: { ...this.r2 },
      analytics: { ...this.analytics },
    };
  }
}
export type MeterSnapshot = ReturnType<Meter["snapshot"]>;

// The test and the Durable Objects run in one isolate under the vitest pool, so module state is
// shared: the bench reads meters directly instead of asking the objects over RPC.
const meters = new Map<string, Meter>();

export function meterFor(key: string): Meter {
  let meter = meters.get(key);
  if (!meter) meters.set(key, (meter = new Meter()));
  return meter;
}

/** The simulated clock every metered ledger reads (far in the future, so no alarm fires on its own). */
export const sim = { now: Date.now() + 365 * 24 * 3600_000 };

const patched = new WeakSet<object>();

/** Wraps `storage.sql.exec` (every statement's cursor is counted) and the alarm setters. */
export function meterStorage(storage: DurableObjectStorage, meter: Meter): void {
  if (patched.has(storage)) return;
  patched.add(storage);
  const sql = storage.sql;
  const exec = sql.exec.bind(sql);
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    const cursor = exec(query, ...bindings);
    if (meter.tracking) meter.track(query, cursor);
    return cursor;
  }) as typeof sql.exec;
  const setAlarm = storage.setAlarm.bind(storage);
  storage.setAlarm = (time, options) => {
    meter.setAlarmCalls++;
    meter.alarmAt = time instanceof Date ? time.getTime() : time;
    return setAlarm(time, options);
  };
  const deleteAlarm = storage.deleteAlarm.bind(storage);
  storage.deleteAlarm = (options) => {
    meter.deleteAlarmCalls++;
    meter.alarmAt = null;
    return deleteAlarm(options);
  };
}

/** A binding whose named methods are replaced; everything else reaches the real binding. */
function wrap<T extends object>(target: T, overrides: Partial<Record<keyof T, unknown>>): T {
  return new Proxy(target, {
    get(t, prop) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof T];
      const value = (t as Record<PropertyKey, unknown>)[prop];
      return typeof value === "function" ? value.bind(t) : value;
    },
  });
}

export function meterD1(db: D1Database, meter: Meter): D1Database {
  const count = (statements: D1PreparedStatement[], results: D1Result[]) => {
    results.forEach((r, i) => {
      const written = r.meta.rows_written ?? 0;
      meter.d1.rowsWritten += written;
      meter.d1.rowsRead += r.meta.rows_read ?? 0;
      // the runtime's D1PreparedStatement keeps its SQL in `statement`
      const query = (statements[i] as unknown as { statement?: string }).statement;
      if (written > 0 && query) {
        const kind = statementKind(query);
        meter.d1WrittenBy[kind] = (meter.d1WrittenBy[kind] ?? 0) + written;
      }
    });
  };
  return wrap(db, {
    batch: async (statements: D1PreparedStatement[]) => {
      meter.d1.batches++;
      meter.d1.statements += statements.length;
      const results = await db.batch(statements);
      count(statements, results);
      return results;
    },
    exec: () => {
      throw new Error("bench: D1 exec() is not metered; use batch()");
    },
  });
}

export function meterR2(bucket: R2Bucket, meter: Meter): R2Bucket {
  return wrap(bucket, {
    put: async (key: string, value: Parameters<R2Bucket["put"]>[1], options?: R2PutOptions) => {
      meter.r2.classA++;
      meter.r2.puts++;
      const result = await bucket.put(key, value, options);
      if (result) meter.r2.bytesPut += result.size;
      return result;
    },
    list: (options?: R2ListOptions) => {
      meter.r2.classA++;
      return bucket.list(options);
    },
    get: (key: string, options?: R2GetOptions) => {
      meter.r2.classB++;
      return bucket.get(key, options);
    },
    head: (key: string) => {
      meter.r2.classB++;
      return bucket.head(key);
    },
  });
}

export function meterAnalytics(dataset: AnalyticsEngineDataset, meter: Meter): AnalyticsEngineDataset {
  return wrap(dataset, {
    writeDataPoint: (point?: AnalyticsEngineDataPoint) => {
      meter.analytics.points++;
      meter.analytics.occurrences += point?.doubles?.[1] ?? 0;
      dataset.writeDataPoint(point);
    },
  });
}

/** The ledger's env with its sinks metered. */
export function meterEnv(env: Env, meter: Meter): Env {
  return {
    ...env,
    DB: meterD1(env.DB, meter),
    ARCHIVE: meterR2(env.ARCHIVE, meter),
    FAILURE_EVENTS: meterAnalytics(env.FAILURE_EVENTS, meter),
  };
}
