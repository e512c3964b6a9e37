// Ops alerts: to Slack and PagerDuty, through the deliveries table. A new group of SYSTEM_ERROR
// or UNKNOWN failures alerts at once, repeats only count; a failure rate over a tier alerts once
// per minute window; exhausted recovery, parked messages and a stuck outbox alert too. An alert
// resolves (PagerDuty) when what raised it has been quiet for ALERT_RESOLVE_AFTER_SECONDS.

import type { NotifyConfig } from "../../config";
import type { Destination, FailureInput, FailureStatus, OpsAlert, Severity } from "../../model";
import type { Change } from "../change";
import type { Regression } from "../store";
import { countThisMinute, counterKey } from "../aggregates/counters";
import { scheduleAt, unschedule } from "../scheduler";
import { enqueueDelivery } from "./delivery-queue";
import { run, sql } from "../../sql";

type AlertRow = { state: "triggered" | "resolved"; fingerprint: string | null; changed_at: number };

function opsDestinations(notify: NotifyConfig): Destination[] {
  return [...(notify.slackWebhookUrl ? (["slack"] as const) : []), ...(notify.pagerDutyRoutingKey ? (["pagerduty"] as const) : [])];
}

/** Raises an alert unless it is already open; an open alert only notes that it is still active. */
export function raise(
  c: Change,
  alert: { key: string; severity: Severity; summary: string; fingerprint?: string; details: OpsAlert["details"] },
): void {
  const dedupKey = `${c.tenant}:${alert.key}`;
  const row = run<AlertRow>(c.sql, sql`SELECT state, fingerprint, changed_at FROM alerts WHERE dedup_key = ${dedupKey}`).toArray()[0];
  run(
    c.sql,
    sql`INSERT INTO alerts (dedup_key, state, fingerprint, changed_at) VALUES (${dedupKey}, 'triggered', ${alert.fingerprint ?? null}, ${c.now})
     ON CONFLICT (dedup_key) DO UPDATE SET state = 'triggered', changed_at = excluded.changed_at`,
  );
  if (row?.state === "triggered") return;
  const payload: OpsAlert = { action: "trigger", dedupKey, severity: alert.severity, summary: alert.summary, tenant: c.tenant, details: alert.details };
  for (const destination of opsDestinations(c.settings.notify)) enqueueDelivery(c.sql, `${destination}:trigger:${dedupKey}:${c.now}`, destination, payload, c.now);
  scheduleAt(c.sql, "resolve", dedupKey, c.now + c.settings.notify.resolveAfterMs);
  c.deltas.add(counterKey.alerts, 1);
}

/** Resolves now (the condition is known to be over), if the alert is open. */
export function resolve(c: Change, key: string): void {
  const dedupKey = `${c.tenant}:${key}`;
  const row = run<Pick<AlertRow, "state">>(c.sql, sql`SELECT state FROM alerts WHERE dedup_key = ${dedupKey}`).toArray()[0];
  if (row?.state === "triggered") resolveKey(c, dedupKey);
}

function resolveKey(c: Change, dedupKey: string): void {
  run(c.sql, sql`UPDATE alerts SET state = 'resolved', changed_at = ${c.now} WHERE dedup_key = ${dedupKey}`);
  unschedule(c.sql, "resolve", dedupKey);
  if (c.settings.notify.pagerDutyRoutingKey) {
    const payload: OpsAlert = { action: "resolve", dedupKey, severity: "info", summary: "resolved", tenant: c.tenant, details: {} };
    enqueueDelivery(c.sql, `pagerduty:resolve:${dedupKey}:${c.now}`, "pagerduty", payload, c.now);
  }
}

/** Due: resolve when quiet long enough, otherwise look again when it would be. */
export function resolveIfQuiet(c: Change, dedupKey: string): void {
  const row = run<AlertRow>(c.sql, sql`SELECT state, fingerprint, changed_at FROM alerts WHERE dedup_key = ${dedupKey}`).toArray()[0];
  if (!row || row.state !== "triggered") {
    unschedule(c.sql, "resolve", dedupKey);
    return;
  }
  const groupSeen = row.fingerprint ? c.store.groupFields([row.fingerprint])[0]?.lastSeen : undefined;
  const lastActive = Math.max(row.changed_at, groupSeen ?? 0);
  if (c.now - lastActive >= c.settings.notify.resolveAfterMs) resolveKey(c, dedupKey);
  else scheduleAt(c.sql, "resolve", dedupKey, lastActive + c.settings.notify.resolveAfterMs);
}

/** A regression's alert key: one per resolve of the group. */
export const regressionKey = (fingerprint: string, resolvedAt: number) => `regression:${fingerprint}:${resolvedAt}`;

/** Resolves the group's open alerts: its group alert and its regression alerts. */
export function resolveGroupAlerts(c: Change, fingerprint: string): void {
  resolve(c, `group:${fingerprint}`);
  const prefix = `${c.tenant}:regression:${fingerprint}:`;
  const open = run<{ dedup_key: string }>(
    c.sql,
    sql`SELECT dedup_key FROM alerts WHERE dedup_key >= ${prefix} AND dedup_key < ${`${prefix}\uffff`} AND state = 'triggered'`,
  ).toArray();
  for (const { dedup_key } of open) resolveKey(c, dedup_key);
}

export interface Occurrence {
  failure: FailureInput;
  status: FailureStatus;
  previousStatus: FailureStatus | null;
}

const ALERTING: readonly string[] = ["SYSTEM_ERROR", "UNKNOWN"];

/**
 * The alerts a recorded batch raises. A group that regressed raises its one regression alert
 * (its own dedup key per resolve, so one incident however many occurrences follow) instead of a
 * group alert; a group still resolved (a late arrival from before its resolve), or regressed
 * (until a person acts on it), raises no group alert.
 */
export function alertsForBatch(
  c: Change,
  occurrences: readonly Occurrence[],
  groups: { regressions: readonly Regression[]; held: ReadonlySet<string> } = { regressions: [], held: new Set() },
): void {
  const seen = new Set<string>(groups.held);
  for (const r of groups.regressions) {
    const f = r.first;
    raise(c, {
      key: regressionKey(r.fingerprint, r.resolvedAt),
      fingerprint: r.fingerprint,
      severity: "error",
      summary: `regression in ${f.queue}: group ${r.fingerprint}, resolved ${new Date(r.resolvedAt).toISOString()}${r.resolvedBy ? ` by ${r.resolvedBy}` : ""}, failed again: ${f.jobId}`.slice(0, 1024),
      details: { class: f.class, queue: f.queue, group: r.fingerprint, jobId: f.jobId, resolvedAt: new Date(r.resolvedAt).toISOString(), resolvedBy: r.resolvedBy },
    });
  }
  for (const { failure: f, status, previousStatus } of occurrences) {
    if (ALERTING.includes(f.class) && !seen.has(f.fingerprint)) {
      seen.add(f.fingerprint);
      const open = run<{ state: string }>(c.sql, sql`SELECT state FROM alerts WHERE dedup_key = ${`${c.tenant}:group:${f.fingerprint}`}`).toArray()[0];
      if (open?.state !== "triggered") {
        raise(c, {
          key: `group:${f.fingerprint}`,
          fingerprint: f.fingerprint,
          severity: f.class === "SYSTEM_ERROR" ? "error" : "warning",
          summary: `${f.class} in ${f.queue}: ${f.error ? `${f.error.name}: ${f.error.message}` : f.reason}`.slice(0, 1024),
          details: { class: f.class, queue: f.queue, group: f.fingerprint, jobId: f.jobId, reason: f.reason },
        });
      }
    }
    if (status === "exhausted" && previousStatus !== "exhausted") {
      raise(c, {
        key: `exhausted:${f.fingerprint}`,
        fingerprint: f.fingerprint,
        severity: "error",
        summary: `recovery gave up on ${f.jobId} in ${f.queue}: it is in the manual recovery queue`,
        details: { class: f.class, queue: f.queue, group: f.fingerprint, jobId: f.jobId },
      });
    }
  }

  if (occurrences.length > 0 && c.settings.notify.thresholds.length > 0) {
    const { before, after } = countThisMinute(c.head.aggregates, c.now, occurrences.length);
    c.settings.notify.thresholds.forEach((tier, i) => {
      if (before < tier.perMinute && after >= tier.perMinute) {
        raise(c, {
          key: `rate:${tier.perMinute}`,
          severity: i === c.settings.notify.thresholds.length - 1 && i > 0 ? "critical" : "warning",
          summary: `more than ${tier.perMinute} failures a minute (${after} so far this minute)`,
          details: { perMinute: tier.perMinute, thisMinute: after },
        });
      }
    });
  }
}

/** The parking queue archived messages the DLQ consumer could not record (on the quarantine ledger). */
export function raiseParked(c: Change, queue: string, count: number, sampleKey: string): void {
  raise(c, {
    key: `parking:${queue}`,
    severity: "error",
    summary: `${count} message(s) reached the parking queue ${queue}: the DLQ consumer could not record them; archived raw in R2`,
    details: { queue, count, example: sampleKey },
  });
}
