// The wire contract: what the API answers and the live socket carries, one schema per resource.
// They document the API (OpenAPI) and type the handlers: a handler's result must fit its route's
// schema or it does not compile. The ledger builds these answers too (stats, failures, groups,
// live messages), so it and the API both import them from here, never from each other.

import { z } from "zod";
import { FAILURE_CLASSES, FAILURE_STATUSES, type ErrorInfo as ErrorInfoType } from "../model";
import type { Same } from "../same";

const count = z.number().int().min(0);
const time = z.string().meta({ description: "ISO 8601 date-time (UTC)", format: "date-time" });
const classCounts = z.object(Object.fromEntries(FAILURE_CLASSES.map((c) => [c, count])) as Record<(typeof FAILURE_CLASSES)[number], typeof count>);
const statusCounts = z.object(Object.fromEntries(FAILURE_STATUSES.map((s) => [s, count])) as Record<(typeof FAILURE_STATUSES)[number], typeof count>);

export const FailureClassSchema = z.enum(FAILURE_CLASSES);
export const FailureStatusSchema = z.enum(FAILURE_STATUSES);

export const ErrorInfo = z.object({
  name: z.string(),
  message: z.string(),
  status: z.number().int().optional(),
  code: z.string().optional(),
  stack: z.string().optional(),
});

export const FailureSummary = z.object({
  jobId: z.string(),
  tenantId: z.string(),
  userId: z.string().nullable(),
  queue: z.string(),
  class: FailureClassSchema,
  reason: z.string(),
  status: FailureStatusSchema,
  attempts: count,
  occurrences: count,
  group: z.string().meta({ description: "The failure group's fingerprint" }),
  error: ErrorInfo.nullable().meta({ description: "null when the platform dead-lettered the job without error context" }),
  firstFailedAt: time,
  lastFailedAt: time,
  recovery: z.object({
    attempts: count,
    poison: z.boolean(),
    note: z.string().nullable().meta({ description: "why it is not (or no longer) retried automatically" }),
  }),
});

export const FailurePage = z.object({
  items: z.array(FailureSummary),
  nextCursor: z.string().nullable().meta({ description: "Pass as ?cursor= for the next page; null on the last page." }),
});

const BodyEncoding = z.enum(["json", "base64"]);

/** A failure after a requeue or abandon: the summary with its body. */
export const FailureWithBody = FailureSummary.extend({
  body: z.unknown().meta({ description: "The job body: JSON as sent, or base64 of raw bytes" }),
  bodyEncoding: BodyEncoding,
});

export const FailureView = FailureSummary.extend({
  recovery: FailureSummary.shape.recovery.optional().meta({ description: "absent once the ledger has evicted the failure" }),
  body: z.unknown(),
  bodyEncoding: BodyEncoding.nullable(),
  source: z.enum(["ledger", "archive"]).meta({ description: "ledger: live; archive: evicted from the ledger, read from D1 and R2" }),
  archive: z
    .object({ key: z.string(), offset: count, length: count, envelope: z.unknown().nullable() })
    .nullable()
    .meta({ description: "Where the full envelope is archived in R2, once flushed" }),
});

export const ActionEntry = z.object({
  action: z.string(),
  actor: z.string(),
  at: time,
  operationId: z.string().nullable(),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).nullable(),
});
export const History = z.object({ items: z.array(ActionEntry) });

export const GroupSummary = z.object({
  fingerprint: z.string(),
  queue: z.string(),
  class: FailureClassSchema,
  errorName: z.string(),
  messageSample: z.string(),
  sampleJobId: z.string(),
  count,
  firstSeen: time,
  lastSeen: time,
  state: z.enum(["open", "resolved"]).meta({ description: "Triage state: open, or resolved by a person" }),
  substate: z
    .enum(["new", "ongoing", "regressed", "escalating"])
    .nullable()
    .meta({ description: "While open: new (first seen in the last 24 h), ongoing, regressed (failed again after a resolve) or escalating; null when not open" }),
  stateChangedAt: time.nullable().meta({ description: "When the state last changed; null if never" }),
  stateChangedBy: z.string().nullable().meta({ description: "Who changed it (an actor, or `regression`)" }),
  sparkline: z.array(count).length(24).meta({ description: "Failures per hour over the last 24 hours, oldest first (the current hour last)" }),
});
export const Groups = z.object({ items: z.array(GroupSummary) });

export const GroupHistoryEntry = z.object({
  seq: count.meta({ description: "The entry's place in the group's history: page older entries with ?before=seq" }),
  at: time,
  actor: z.string().meta({ description: "Who acted: a token's label, the admin, or `regression`" }),
  action: z.enum(["resolve", "acknowledge", "reopen", "regressed"]),
  detail: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).nullable(),
});
export const GroupHistory = z.object({ items: z.array(GroupHistoryEntry) });
export const GroupDetail = GroupSummary.extend({
  history: z.array(GroupHistoryEntry).meta({ description: "The newest 20 entries of its history; the rest through …/history" }),
  sample: z.array(FailureSummary).meta({ description: "Its newest 10 failures; the rest through GET …/failures?group=" }),
});

const SeriesRange = (length: number, step: string) =>
  z.object({
    start: time.meta({ description: "Start of the first bucket" }),
    stepSeconds: count.meta({ description: `Width of each bucket: ${step}` }),
    counts: z.array(count).length(length).meta({ description: `${length} buckets, oldest first; the last is the current, partial one` }),
  });

export const FailureSeries = z
  .object({
    tenant: z.string(),
    group: z.string().nullable().meta({ description: "The group's fingerprint, or null for the whole tenant" }),
    at: time.meta({ description: "When the series was read" }),
    minutes: SeriesRange(60, "a minute"),
    hours: SeriesRange(24, "an hour"),
    days: SeriesRange(14, "a day (UTC)"),
  })
  .meta({ description: "Failures recorded over time, counted as the ledger flushes (seconds behind the live counters)" });

export const LedgerStats = z.object({
  tenant: z.string(),
  total: count,
  occurrences: count,
  duplicates: count,
  batches: count.meta({ description: "record calls: the consumer makes one per tenant per queue batch" }),
  last24h: count,
  byClass: classCounts,
  byStatus: statusCounts,
  byQueue: z.record(z.string(), count),
  avgAttempts: z.number(),
  recoveryQueueSize: count,
  groups: count,
  rows: count,
  evicted: count,
  archive: z.object({
    flushes: count,
    segments: count,
    occurrences: count,
    d1RowsWritten: count,
    d1Evicted: count.meta({ description: "failures D1 retention deleted (D1_MAX_AGE_DAYS, D1_MAX_ROWS_PER_TENANT); R2 keeps their occurrences" }),
  }),
  recovery: z.object({
    scheduledRetries: count,
    retriesSent: count,
    resends: count,
    sendFailures: count,
    refailures: count,
    exhausted: count,
    poison: count,
    recovered: count,
    presumedRecovered: count,
    manualRequeues: count,
    abandoned: count,
  }),
  notifications: z.object({
    sent: count,
    suppressed: count.meta({ description: "Notices folded into digests by the per-user rate limit" }),
    digests: count,
    alerts: count,
    deliveries: z.object({
      pending: count,
      oldestPendingAgeMs: count.nullable(),
      lastError: z.string().nullable(),
      sent: count,
      failures: count,
      dropped: count,
    }),
  }),
  outbox: z.object({
    pendingRows: count,
    oldestPendingAgeMs: count.nullable(),
    lastFlushAt: time.nullable(),
    lastFlushError: z.object({ message: z.string(), at: time }).nullable(),
    consecutiveFlushFailures: count,
  }),
  circuits: z.record(
    z.string(),
    z.object({ state: z.enum(["closed", "open", "half_open"]), recentFailures: count, openedAt: time.nullable(), probeJobId: z.string().nullable() }),
  ),
});

export const CrossTenantStats = z.object({
  scope: z.literal("all"),
  source: z.literal("d1").meta({ description: "Counted from D1, which trails the live ledgers by the flush delay" }),
  total: count,
  byClass: classCounts,
  byStatus: statusCounts,
  tenantCount: count,
  tenants: z
    .array(z.object({ tenant: z.string(), total: count, byClass: classCounts, byStatus: statusCounts }))
    .meta({ description: "The tenants with the most failures first, at most ?limit of them" }),
});

export const OperationFilterView = z.object({
  class: FailureClassSchema.optional(),
  queue: z.string().optional(),
  status: FailureStatusSchema.optional(),
  group: z.string().optional(),
  from: z.number().optional().meta({ description: "epoch ms" }),
  to: z.number().optional().meta({ description: "epoch ms" }),
});

export const Operation = z.object({
  id: z.string(),
  action: z.enum(["requeue", "abandon"]),
  filter: OperationFilterView,
  rate: count,
  status: z.enum(["running", "done"]),
  total: count,
  processed: count,
  succeeded: count,
  failed: count,
  errors: z.array(z.object({ jobId: z.string(), error: z.string() })).meta({ description: "The first 100 items that failed" }),
  createdBy: z.string(),
  createdAt: time,
  updatedAt: time,
  finishedAt: time.nullable(),
});

export const OperationList = z.object({ items: z.array(Operation) });

export const OperationPreview = z.object({
  dryRun: z.literal(true),
  action: z.enum(["requeue", "abandon"]),
  matched: count,
  sample: z.array(z.string()).meta({ description: "Up to 10 of the matching job ids" }),
});

export const Parked = z.object({
  total: count,
  items: z.array(
    z.object({ messageId: z.string(), queue: z.string(), archiveKey: z.string(), bytes: count, attempts: count, parkedAt: time }),
  ),
});

export const TokenView = z.object({
  id: z.string(),
  tenant: z.string(),
  label: z.string(),
  scope: z.enum(["read", "operate"]).meta({ description: "read: view only · operate: also requeue, abandon, bulk operations, edit-and-requeue" }),
  createdAt: time,
  createdBy: z.string(),
  revokedAt: time.nullable(),
});
export const CreatedToken = TokenView.extend({
  token: z.string().meta({ description: "The token itself. Shown this once: only its SHA-256 is kept." }),
});
export const TokenList = z.object({ items: z.array(TokenView) });

export const Session = z.object({
  kind: z.enum(["admin", "tenant"]),
  tenant: z.string().nullable().meta({ description: "The tenant a tenant token is bound to; null for the admin" }),
  label: z.string().meta({ description: "Who holds the token; the actor of what it does" }),
  scope: z.enum(["read", "operate", "admin"]).meta({ description: "What the token may do" }),
});

export const Health = z.object({ ok: z.literal(true) });

// Live updates (GET /api/live): what the ticket route answers, and the WebSocket's messages.

export const LiveScope = z.enum(["admin", "operate", "read"]).meta({ description: "What the token that opened the socket may do" });

export const LiveTicket = z.object({
  ticket: z.string().meta({ description: "Single use, valid for about a minute: open GET /api/live with it" }),
  tenant: z.string(),
  scope: LiveScope,
  expiresAt: time,
  url: z.string().meta({ description: "The path (and query) to open as a WebSocket on this worker" }),
});

const seq = count.meta({
  description:
    "Grows by exactly 1 per update on one connection; reconnect with ?since=<the last seq seen> to resume without a snapshot when nothing was missed",
});

export const LiveSnapshot = z.object({
  type: z.literal("snapshot"),
  seq,
  tenant: z.string(),
  stats: LedgerStats,
  failures: z.array(FailureSummary).meta({ description: "The newest failures (the first page of the failures list)" }),
  groups: z.array(GroupSummary).meta({ description: "The most recently seen groups" }),
  operations: z.array(Operation).meta({ description: "Bulk operations still running" }),
});

export const LiveResumed = z.object({
  type: z.literal("resumed"),
  seq,
});

export const LiveUpdate = z.object({
  type: z.literal("update"),
  seq,
  stats: LedgerStats.meta({ description: "The counters now" }),
  failures: z.array(FailureSummary).meta({ description: "Failures new or changed since the previous message, newest first" }),
  removed: z.array(z.string()).meta({ description: "Job ids that changed and are no longer held by the ledger (evicted)" }),
  groups: z.array(GroupSummary).meta({ description: "Groups new or changed since the previous message" }),
  operations: z.array(Operation).meta({ description: "Bulk operations that progressed since the previous message" }),
  truncated: z.boolean().meta({ description: "More changed than one message carries: re-read the lists through the API" }),
});

export const LiveError = z.object({
  type: z.literal("error"),
  error: z.object({ code: z.string(), message: z.string() }),
});

export const LiveServerMessage = z.discriminatedUnion("type", [LiveSnapshot, LiveResumed, LiveUpdate, LiveError]);

export const LiveClientMessage = z
  .object({
    type: z.literal("sync"),
    since: count.optional().meta({ description: "The last seq seen: answered with resumed if nothing was missed, else a snapshot" }),
  })
  .strict()
  .meta({ description: 'JSON messages a client may send; the text "ping" is answered "pong" without waking the ledger' });

export type LiveScope = z.infer<typeof LiveScope>;
export type LiveServerMessage = z.input<typeof LiveServerMessage>;

// The TypeScript types of the API's answers, derived from the schemas above (the console and the
// CLI import these, so a change to an answer breaks them at compile time).
export type ErrorInfo = z.output<typeof ErrorInfo>;
export type FailureSummary = z.output<typeof FailureSummary>;
export type FailurePage = z.output<typeof FailurePage>;
export type FailureWithBody = z.output<typeof FailureWithBody>;
export type FailureView = z.output<typeof FailureView>;
export type ActionEntry = z.output<typeof ActionEntry>;
export type GroupHistoryEntry = z.output<typeof GroupHistoryEntry>;
export type GroupHistory = z.output<typeof GroupHistory>;
export type GroupDetail = z.output<typeof GroupDetail>;
export type History = z.output<typeof History>;
export type GroupSummary = z.output<typeof GroupSummary>;
export type Groups = z.output<typeof Groups>;
export type FailureSeries = z.output<typeof FailureSeries>;
export type LedgerStats = z.output<typeof LedgerStats>;
export type CrossTenantStats = z.output<typeof CrossTenantStats>;
export type Operation = z.output<typeof Operation>;
export type OperationList = z.output<typeof OperationList>;
export type OperationPreview = z.output<typeof OperationPreview>;
export type Parked = z.output<typeof Parked>;
export type TokenView = z.output<typeof TokenView>;
export type CreatedToken = z.output<typeof CreatedToken>;
export type TokenList = z.output<typeof TokenList>;
export type Session = z.output<typeof Session>;
export type Health = z.output<typeof Health>;
export type LiveTicket = z.output<typeof LiveTicket>;

// The error info the capture helper sends is the one the API answers with.
const sameErrorInfo: Same<ErrorInfo, ErrorInfoType> = true;
void sameErrorInfo;
