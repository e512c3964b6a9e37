// GET /metrics: Prometheus text exposition of every tenant ledger's live counters. The tenants
// are listed from D1 (those with a summary row, plus those with tokens) and asked a few at a time.

import type { z } from "zod";
import { defineRoute } from "../route";
import type { LedgerStats } from "../../contract/schemas";
import { ledgerFor } from "../tenant";
import { allShards } from "../../sinks/shards";
import { prepare, sql } from "../../sql";

/** At most this many tenants per scrape: each costs one Durable Object request (and subrequest). */
export const METRICS_MAX_TENANTS = 200;
/** Ledgers asked at once. */
const FAN_OUT = 8;

type Stats = z.input<typeof LedgerStats>;

/** The tenants to report, at most `max`: those with a summary row (every tenant that flushed) and those with tokens. */
export async function listTenants(env: Env, max: number): Promise<{ tenants: string[]; truncated: boolean }> {
  const db = env.DB;
  const [[withTokens], ...withFailures] = await Promise.all([
    db.batch<{ tenant_id: string | null }>([
      prepare(db, sql`SELECT DISTINCT tenant_id FROM api_tokens WHERE revoked_at IS NULL ORDER BY tenant_id LIMIT ${max + 1}`),
    ]),
    // Every database: a tenant's summary is in the one that holds its failures.
    ...allShards(env).map(({ db }) =>
      prepare(db, sql`SELECT tenant_id FROM tenant_summaries ORDER BY tenant_id LIMIT ${max + 1}`).all<{ tenant_id: string | null }>(),
    ),
  ]);
  const all = [...new Set([...withFailures.flatMap((r) => r.results), ...(withTokens?.results ?? [])].map((r) => r.tenant_id!))].sort();
  return { tenants: all.slice(0, max), truncated: all.length > max };
}

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: { labels: Record<string, string>; value: number }[];
}

const escapeLabel = (value: string) => value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');

export function exposition(families: Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = Object.entries(s.labels)
        .map(([k, v]) => `${k}="${escapeLabel(v)}"`)
        .join(",");
      lines.push(`${f.name}${labels ? `{${labels}}` : ""} ${Number.isFinite(s.value) ? s.value : 0}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export function families(stats: { tenant: string; stats: Stats | null }[], meta: { truncated: boolean }): Family[] {
  const ok = stats.filter((s): s is { tenant: string; stats: Stats } => s.stats !== null);
  const per = (name: string, type: Family["type"], help: string, value: (s: Stats) => number | undefined): Family => ({
    name,
    type,
    help,
    samples: ok.flatMap(({ tenant, stats }) => {
      const v = value(stats);
      return v === undefined ? [] : [{ labels: { tenant }, value: v }];
    }),
  });
  const byKey = (name: string, help: string, label: string, pick: (s: Stats) => Record<string, number>): Family => ({
    name,
    type: "gauge",
    help,
    samples: ok.flatMap(({ tenant, stats }) => Object.entries(pick(stats)).map(([k, value]) => ({ labels: { tenant, [label]: k }, value }))),
  });
  return [
    per("dlq_failures_recorded_total", "counter", "Distinct failed jobs recorded by the tenant's ledger.", (s) => s.total),
    per("dlq_failure_occurrences_total", "counter", "Failure occurrences recorded (a job that fails again counts again).", (s) => s.occurrences),
    per("dlq_failures_last_24h", "gauge", "Failure occurrences in the rolling last 24 hours.", (s) => s.last24h),
    byKey("dlq_failures_by_class", "Failed jobs by class (a job counts under its latest class).", "class", (s) => s.byClass),
    byKey("dlq_failures_by_status", "Failed jobs by status.", "status", (s) => s.byStatus),
    per("dlq_recovery_queue_size", "gauge", "Failures waiting for a person (open or exhausted).", (s) => s.recoveryQueueSize),
    per("dlq_retries_sent_total", "counter", "Automatic recovery retries sent to origin queues.", (s) => s.recovery.retriesSent),
    per("dlq_retry_send_failures_total", "counter", "Recovery sends that failed.", (s) => s.recovery.sendFailures),
    per("dlq_manual_requeues_total", "counter", "Jobs requeued by a person or a bulk operation.", (s) => s.recovery.manualRequeues),
    per("dlq_recovered_total", "counter", "Failures reported recovered by the capture helper.", (s) => s.recovery.recovered),
    per("dlq_presumed_recovered_total", "counter", "Retried failures presumed recovered after staying quiet.", (s) => s.recovery.presumedRecovered),
    per("dlq_abandoned_total", "counter", "Failures abandoned by a person.", (s) => s.recovery.abandoned),
    per("dlq_exhausted_total", "counter", "Failures whose automatic recovery gave up.", (s) => s.recovery.exhausted),
    per("dlq_notifications_sent_total", "counter", "Notifications sent.", (s) => s.notifications?.sent),
    per("dlq_notifications_suppressed_total", "counter", "Notifications suppressed by rate limits or digests.", (s) => s.notifications?.suppressed),
    per("dlq_outbox_pending_rows", "gauge", "Ledger changes not yet flushed to D1 and R2.", (s) => s.outbox.pendingRows),
    per("dlq_outbox_oldest_pending_seconds", "gauge", "Age of the oldest unflushed change (0 when none).", (s) => (s.outbox.oldestPendingAgeMs ?? 0) / 1000),
    per("dlq_outbox_consecutive_flush_failures", "gauge", "Flushes that failed in a row.", (s) => s.outbox.consecutiveFlushFailures),
    per("dlq_ledger_evicted_total", "counter", "Failures evicted from the ledger by retention (kept in D1 and R2).", (s) => s.evicted),
    per("dlq_d1_evicted_total", "counter", "Failures D1 retention deleted (their occurrences stay in R2).", (s) => s.archive?.d1Evicted),
    {
      name: "dlq_ledger_up",
      type: "gauge",
      help: "1 when the tenant's ledger answered this scrape, 0 when it failed.",
      samples: stats.map((s) => ({ labels: { tenant: s.tenant }, value: s.stats ? 1 : 0 })),
    },
    {
      name: "dlq_metrics_tenants_truncated",
      type: "gauge",
      help: `1 when there are more than ${METRICS_MAX_TENANTS} tenants and only the first (by name) are reported.`,
      samples: [{ labels: {}, value: meta.truncated ? 1 : 0 }],
    },
  ];
}

export const getMetrics = defineRoute({
  method: "GET",
  path: "/metrics",
  tag: "operations",
  summary: "Prometheus metrics: every tenant ledger's counters",
  description: `Text exposition format 0.0.4. Each scrape asks up to ${METRICS_MAX_TENANTS} tenant ledgers (one Durable Object request each): scrape every minute, not every few seconds.`,
  access: "admin",
  responses: { 200: { description: "Prometheus text exposition", text: "text/plain; version=0.0.4; charset=utf-8" } },
  async handler({ env }) {
    const { tenants, truncated } = await listTenants(env, METRICS_MAX_TENANTS);
    const stats = await mapLimited(tenants, FAN_OUT, async (tenant) => {
      try {
        return { tenant, stats: (await ledgerFor(env, tenant).stats()) as Stats };
      } catch (error) {
        console.error(`metrics: the ledger of ${tenant} did not answer`, error);
        return { tenant, stats: null };
      }
    });
    return exposition(families(stats, { truncated }));
  },
});
