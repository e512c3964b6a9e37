// The vocabulary shared by the capture helper, the DLQ consumer, the ledger and the API.

export const FAILURE_CLASSES = ["RECOVERABLE", "USER_ERROR", "SYSTEM_ERROR", "UNKNOWN"] as const;
export type FailureClass = (typeof FAILURE_CLASSES)[number];

/**
 * open: recorded, waiting for recovery or a person · retrying: a recovery retry is scheduled ·
 * exhausted: automatic recovery gave up, in the manual recovery queue · recovered /
 * presumed_recovered / abandoned: terminal.
 */
export const FAILURE_STATUSES = [
  "open",
  "retrying",
  "exhausted",
  "recovered",
  "presumed_recovered",
  "abandoned",
] as const;
export type FailureStatus = (typeof FAILURE_STATUSES)[number];
export const TERMINAL_STATUSES: readonly FailureStatus[] = ["recovered", "presumed_recovered", "abandoned"];

/** Failures that cannot be attributed to a tenant are kept here, raw, never dropped. */
export const QUARANTINE_TENANT = "_quarantine";

/** What the capture helper says about an error; the API's zod schema is checked against it. */
export type { ErrorInfo } from "@dlq-ledger/capture";
import type { ErrorInfo } from "@dlq-ledger/capture";

/** One failure occurrence, validated and classified, as the DLQ consumer hands it to a ledger. */
export interface FailureInput {
  jobId: string;
  /** Identifies this occurrence: a redelivery of the same message carries the same key. */
  occurrenceKey: string;
  userId?: string;
  queue: string;
  class: FailureClass;
  reason: string;
  fingerprint: string;
  /** null when the platform dead-lettered the job without error context. */
  error: ErrorInfo | null;
  /** The original job body: JSON text, or base64 of raw bytes. */
  body: string;
  bodyEncoding: "json" | "base64";
  /** Redaction changed the body: a faithful retry needs `sealedBody`. */
  bodyRedacted?: boolean;
  /** The original body, sealed with RETRY_SEAL_KEY, when redaction changed it. */
  sealedBody?: string;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
}

/** One occurrence as archived: the redacted envelope plus where and when it was recorded. */
export interface ArchivedOccurrence extends FailureInput {
  tenantId: string;
  recordedAt: number;
}

/**
 * An occurrence whose failure row held its fields when it was recorded: outbox rows written
 * before ledger v16 kept only what the row did not (src/ledger/store/legacy-refs.ts).
 */
export interface OccurrenceRef {
  ref: true;
  /** About the size of its archived line: what the flush budgets by. */
  lineBytes: number;
  jobId: string;
  occurrenceKey: string;
  userId?: string;
  queue: string;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
  tenantId: string;
  recordedAt: number;
}

/** What an outbox row lists: whole occurrences (and, in rows from before v16, refs). */
export type OutboxOccurrence = ArchivedOccurrence | OccurrenceRef;

/** Where an archived occurrence's line lies in its R2 segment. */
export interface ArchivedLine {
  jobId: string;
  lastFailedAt: number;
  offset: number;
  length: number;
}

/** A failure's current state, as the ledger holds it (times in epoch ms). */
export interface FailureFields {
  jobId: string;
  userId: string | null;
  queue: string;
  class: FailureClass;
  reason: string;
  status: FailureStatus;
  attempts: number;
  occurrences: number;
  /** the group's fingerprint */
  group: string;
  error: ErrorInfo | null;
  firstFailedAt: number;
  lastFailedAt: number;
}

/** Failing with the same fingerprint right after this many retries in a row flags a job as poison. */
export const POISON_STREAK = 2;

/** A failure's columns as both stores name them: the ledger's failures table and D1's. */
export type FailureColumns = {
  job_id: string;
  user_id: string | null;
  queue: string;
  class: FailureClass;
  reason: string;
  status: FailureStatus;
  attempts: number;
  occurrences: number;
  group_fp: string;
  first_failed_at: number;
  last_failed_at: number;
};

/** A stored failure's fields, with its error as the store keeps it (a JSON column, or four). */
export function fieldsOf(row: FailureColumns, error: ErrorInfo | null): FailureFields {
  return {
    jobId: row.job_id,
    userId: row.user_id,
    queue: row.queue,
    class: row.class,
    reason: row.reason,
    status: row.status,
    attempts: row.attempts,
    occurrences: row.occurrences,
    group: row.group_fp,
    error,
    firstFailedAt: row.first_failed_at,
    lastFailedAt: row.last_failed_at,
  };
}

/** A failure's current state as the ledger hands it to D1: absolute, so rewriting it is idempotent. */
export interface D1FailureState extends FailureFields {
  archive: { key: string; offset: number; length: number } | null;
}

// Notifications: written by the ledger, delivered by the webhook sink.

export const DESTINATIONS = ["slack", "pagerduty", "user_webhook"] as const;
export type Destination = (typeof DESTINATIONS)[number];

export type Severity = "critical" | "error" | "warning" | "info";

export interface OpsAlert {
  action: "trigger" | "resolve";
  /** PagerDuty dedup_key: tenant + what the alert is about */
  dedupKey: string;
  severity: Severity;
  summary: string;
  tenant: string;
  details: Record<string, string | number | null>;
}

export interface UserNotice {
  id: string;
  kind: "failure" | "digest";
  tenantId: string;
  userId: string;
  jobId: string | null;
  title: string;
  body: string;
  createdAt: number;
}

// D1's other shapes, as the ledger hands them over.

export interface D1GroupState {
  fingerprint: string;
  queue: string;
  class: string;
  errorName: string;
  messageSample: string;
  sampleJobId: string;
  count: number;
  firstSeen: number;
  lastSeen: number;
}

/** A tenant's counters as its ledger holds them (lifetime counts, the same as its live stats). */
export interface TenantSummary {
  total: number;
  occurrences: number;
  byClass: Record<string, number>;
  byStatus: Record<string, number>;
}

/** How much of each tenant's record D1 keeps. */
export interface D1Retention {
  maxRowsPerTenant: number;
  maxAgeMs: number;
}

export type DeliveryResult = { ok: true } | { ok: false; status: number | null; retryAfterMs: number | null; error: string };

/** Where notices and alerts go and at what pace (from wrangler vars, src/config.ts). */
export interface NotifyConfig {
  /** where user notices are posted, when set (signed with USER_NOTIFY_WEBHOOK_SECRET) */
  userWebhookUrl: string | null;
  userWebhookSecret: string | null;
  slackWebhookUrl: string | null;
  pagerDutyRoutingKey: string | null;
  userLimit: number;
  userWindowMs: number;
  pagerDutyUrl: string;
  thresholds: { perMinute: number }[];
  resolveAfterMs: number;
  outboxStuckAfterMs: number;
}

// What the ledger asks of the stores and services outside it: src/sinks implements it
// (sinksFor), so the ledger imports no sink. Each failure of theirs is a SinkError, retried.

/** One flush for D1: the current state of the jobs and groups it touched, the inbox notices and the tenant's totals. */
export interface D1Flush {
  failures: readonly D1FailureState[];
  groups: readonly D1GroupState[];
  notices: readonly UserNotice[];
  summary: TenantSummary;
}

export interface LedgerSinks {
  /** R2: writes one archive segment (once: a retried put leaves the first in place). */
  putSegment(tenant: string, key: string, bytes: Uint8Array): Promise<void>;
  /** D1: one batch of idempotent upserts; returns the rows written. */
  writeD1(tenant: string, flush: D1Flush, now: number): Promise<number>;
  /** D1 retention: one bounded pass over the tenant's rows; `more` when it stopped at its bound. */
  pruneD1(tenant: string, policy: D1Retention, now: number): Promise<{ deleted: number; more: boolean }>;
  /** Analytics Engine: the data points of one flush's occurrences. */
  writePoints(tenant: string, occurrences: readonly ArchivedOccurrence[]): Promise<void>;
  /** One webhook delivery; null when the destination is no longer configured. */
  deliver(notify: NotifyConfig, destination: Destination, payload: unknown, now: number): Promise<DeliveryResult | null>;
}
