// Settings come from wrangler vars; they are parsed once, here, with errors that say what to fix.

import { z } from "zod";
import { ClassifierRules, type ClassifierRule } from "./ingest/classifier";
import type { NotifyConfig } from "./model";

export type { NotifyConfig };

const intVar = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

/** A var holding JSON, validated by `schema`. */
const jsonVar = <S extends z.ZodType>(name: string, what: string, schema: S) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: `${name} must be ${what}` });
        return z.NEVER;
      }
    })
    .pipe(schema);

const RecoveryPolicy = z
  .object({
    baseSeconds: z.number().int().min(1).max(43_200),
    capSeconds: z.number().int().min(1).max(43_200),
    maxAttempts: z.number().int().min(0).max(100),
  })
  .strict();
export type RecoveryPolicy = z.infer<typeof RecoveryPolicy>;

const Threshold = z.object({ perMinute: z.number().int().min(1).max(10_000_000) }).strict();

const ConfigVars = z.object({
  DEV_ROUTES: z.string().default("false").transform((v) => v === "true"),
  DLQ_QUEUE: z.string().min(1).default("jobs-dlq"),
  PARKING_QUEUE: z.string().min(1).default("jobs-dlq-parking"),
  RAW_ORIGIN_QUEUE: z.string().min(1).default("jobs"),
  INGEST_RETRY_DELAY_SECONDS: intVar("INGEST_RETRY_DELAY_SECONDS", 0, 43_200).default(10),
  CLASSIFIER_RULES: jsonVar("CLASSIFIER_RULES", "a JSON array of rules", ClassifierRules).default([]),
  REDACT_KEYS: jsonVar("REDACT_KEYS", "a JSON array of key names", z.array(z.string().min(1).max(100)).max(200)).default([]),
  FLUSH_DELAY_SECONDS: intVar("FLUSH_DELAY_SECONDS", 0, 3600).default(5),
  LEDGER_MAX_ROWS: intVar("LEDGER_MAX_ROWS", 1, 100_000_000).default(1_000_000),
  LEDGER_MAX_AGE_DAYS: intVar("LEDGER_MAX_AGE_DAYS", 1, 3650).default(30),
  D1_SHARDS: z
    .string()
    .default("DB")
    .transform((v) => v.split(",").map((name) => name.trim()))
    .pipe(
      z
        .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "D1_SHARDS: a comma-separated list of D1 binding names"))
        .min(1)
        .refine((names) => names[0] === "DB", "D1_SHARDS: the first database must be DB, the primary (tokens, parked messages, tenant assignments)")
        .refine((names) => new Set(names).size === names.length, "D1_SHARDS: a database is listed twice"),
    ),
  D1_MAX_ROWS_PER_TENANT: intVar("D1_MAX_ROWS_PER_TENANT", 1, 1_000_000_000).default(1_000_000),
  D1_MAX_AGE_DAYS: intVar("D1_MAX_AGE_DAYS", 1, 3650).default(90),
  ORIGIN_QUEUES: jsonVar(
    "ORIGIN_QUEUES",
    'a JSON object mapping queue names to producer binding names, e.g. {"jobs":"JOBS"}',
    z.record(z.string().min(1), z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "binding names are identifiers")),
  ).default({}),
  RECOVERY_BASE_SECONDS: intVar("RECOVERY_BASE_SECONDS", 1, 43_200).default(60),
  RECOVERY_CAP_SECONDS: intVar("RECOVERY_CAP_SECONDS", 1, 43_200).default(3600),
  RECOVERY_MAX_ATTEMPTS: intVar("RECOVERY_MAX_ATTEMPTS", 0, 100).default(5),
  RECOVERY_POLICIES: jsonVar(
    "RECOVERY_POLICIES",
    "a JSON object of per-queue policies { baseSeconds, capSeconds, maxAttempts }",
    z.record(z.string().min(1), RecoveryPolicy),
  ).default({}),
  PRESUME_RECOVERED_AFTER_SECONDS: intVar("PRESUME_RECOVERED_AFTER_SECONDS", 1, 30 * 86_400).default(1800),
  CIRCUIT_FAILURE_THRESHOLD: intVar("CIRCUIT_FAILURE_THRESHOLD", 1, 10_000).default(5),
  CIRCUIT_WINDOW_SECONDS: intVar("CIRCUIT_WINDOW_SECONDS", 1, 86_400).default(300),
  CIRCUIT_COOLDOWN_SECONDS: intVar("CIRCUIT_COOLDOWN_SECONDS", 1, 86_400).default(120),
  USER_NOTIFY_WEBHOOK_URL: z.union([z.literal(""), z.url({ protocol: /^https?$/, error: "USER_NOTIFY_WEBHOOK_URL must be an http(s) URL" })]).default(""),
  USER_NOTIFY_LIMIT: intVar("USER_NOTIFY_LIMIT", 1, 10_000).default(5),
  USER_NOTIFY_WINDOW_SECONDS: intVar("USER_NOTIFY_WINDOW_SECONDS", 1, 7 * 86_400).default(3600),
  PAGERDUTY_EVENTS_URL: z.url({ protocol: /^https?$/, error: "PAGERDUTY_EVENTS_URL must be an http(s) URL" }).default("https://events.pagerduty.com/v2/enqueue"),
  ALERT_THRESHOLDS: jsonVar("ALERT_THRESHOLDS", 'a JSON array like [{"perMinute":100}]', z.array(Threshold).max(10)).default([]),
  ALERT_RESOLVE_AFTER_SECONDS: intVar("ALERT_RESOLVE_AFTER_SECONDS", 60, 30 * 86_400).default(3600),
  OUTBOX_STUCK_AFTER_SECONDS: intVar("OUTBOX_STUCK_AFTER_SECONDS", 10, 86_400).default(600),
});


export interface RecoveryConfig {
  defaults: RecoveryPolicy;
  perQueue: Record<string, RecoveryPolicy>;
  /** queue name → name of the producer binding that sends to it */
  origins: Record<string, string>;
  presumeAfterMs: number;
  circuit: { threshold: number; windowMs: number; cooldownMs: number };
}

export interface Config {
  devRoutes: boolean;
  queues: { dlq: string; parking: string; rawOrigin: string };
  ingestRetryDelaySeconds: number;
  classifierRules: ClassifierRule[];
  redactKeys: string[];
  flushDelayMs: number;
  retention: { maxRows: number; maxAgeMs: number };
  /** D1: the databases tenants spread over, and how much of each tenant's record D1 keeps. */
  d1: { shards: string[]; maxRowsPerTenant: number; maxAgeMs: number };
  recovery: RecoveryConfig;
  notify: NotifyConfig;
}

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ConfigVars.safeParse(env);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message));
    throw new Error(`Invalid configuration: ${issues.join("; ")}. Fix the [vars] in wrangler.toml.`);
  }
  const v = parsed.data;
  // D1 is the record behind the ledger's hot window: it must keep at least what the ledger keeps.
  if (v.D1_MAX_AGE_DAYS < v.LEDGER_MAX_AGE_DAYS || v.D1_MAX_ROWS_PER_TENANT < v.LEDGER_MAX_ROWS) {
    throw new Error(
      "Invalid configuration: D1_MAX_AGE_DAYS and D1_MAX_ROWS_PER_TENANT must be at least LEDGER_MAX_AGE_DAYS and LEDGER_MAX_ROWS. Fix the [vars] in wrangler.toml.",
    );
  }
  const config: Config = {
    devRoutes: v.DEV_ROUTES,
    queues: { dlq: v.DLQ_QUEUE, parking: v.PARKING_QUEUE, rawOrigin: v.RAW_ORIGIN_QUEUE },
    ingestRetryDelaySeconds: v.INGEST_RETRY_DELAY_SECONDS,
    classifierRules: v.CLASSIFIER_RULES,
    redactKeys: v.REDACT_KEYS,
    flushDelayMs: v.FLUSH_DELAY_SECONDS * 1000,
    retention: { maxRows: v.LEDGER_MAX_ROWS, maxAgeMs: v.LEDGER_MAX_AGE_DAYS * 24 * 60 * 60 * 1000 },
    d1: { shards: v.D1_SHARDS, maxRowsPerTenant: v.D1_MAX_ROWS_PER_TENANT, maxAgeMs: v.D1_MAX_AGE_DAYS * 24 * 60 * 60 * 1000 },
    recovery: {
      defaults: { baseSeconds: v.RECOVERY_BASE_SECONDS, capSeconds: v.RECOVERY_CAP_SECONDS, maxAttempts: v.RECOVERY_MAX_ATTEMPTS },
      perQueue: v.RECOVERY_POLICIES,
      origins: v.ORIGIN_QUEUES,
      presumeAfterMs: v.PRESUME_RECOVERED_AFTER_SECONDS * 1000,
      circuit: {
        threshold: v.CIRCUIT_FAILURE_THRESHOLD,
        windowMs: v.CIRCUIT_WINDOW_SECONDS * 1000,
        cooldownMs: v.CIRCUIT_COOLDOWN_SECONDS * 1000,
      },
    },
    notify: {
      userWebhookUrl: v.USER_NOTIFY_WEBHOOK_URL || null,
      userWebhookSecret: env.USER_NOTIFY_WEBHOOK_SECRET || null,
      slackWebhookUrl: env.OPS_SLACK_WEBHOOK_URL || null,
      pagerDutyRoutingKey: env.OPS_PAGERDUTY_ROUTING_KEY || null,
      userLimit: v.USER_NOTIFY_LIMIT,
      userWindowMs: v.USER_NOTIFY_WINDOW_SECONDS * 1000,
      pagerDutyUrl: v.PAGERDUTY_EVENTS_URL,
      thresholds: [...v.ALERT_THRESHOLDS].sort((a, b) => a.perMinute - b.perMinute),
      resolveAfterMs: v.ALERT_RESOLVE_AFTER_SECONDS * 1000,
      outboxStuckAfterMs: v.OUTBOX_STUCK_AFTER_SECONDS * 1000,
    },
  };
  cache.set(env, config);
  return config;
}
