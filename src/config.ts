// Settings come from wrangler vars; they are parsed once, here, with errors that say what to fix.

import { z } from "zod";
import { ClassifierRules, type ClassifierRule } from "./ingest/classifier";

const intVar = (name: string, min: number, max: number) =>
  z.coerce
    .number({ error: `${name} must be a number` })
    .int(`${name} must be a whole number`)
    .min(min, `${name} must be at least ${min}`)
    .max(max, `${name} must be at most ${max}`);

const rulesVar = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "CLASSIFIER_RULES must be a JSON array of rules" });
      return z.NEVER;
    }
  })
  .pipe(ClassifierRules);

const ConfigVars = z.object({
  DEV_ROUTES: z.string().default("false").transform((v) => v === "true"),
  DLQ_QUEUE: z.string().min(1).default("jobs-dlq"),
  PARKING_QUEUE: z.string().min(1).default("jobs-dlq-parking"),
  DEMO_QUEUE: z.string().min(1).default("jobs"),
  RAW_ORIGIN_QUEUE: z.string().min(1).default("jobs"),
  INGEST_RETRY_DELAY_SECONDS: intVar("INGEST_RETRY_DELAY_SECONDS", 0, 43_200).default(10),
  DEMO_BACKOFF_BASE_SECONDS: intVar("DEMO_BACKOFF_BASE_SECONDS", 0, 43_200).default(1),
  CLASSIFIER_RULES: rulesVar.default([]),
  REDACT_KEYS: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "REDACT_KEYS must be a JSON array of key names" });
        return z.NEVER;
      }
    })
    .pipe(z.array(z.string().min(1).max(100), { error: "REDACT_KEYS must be a JSON array of key names" }).max(200))
    .default([]),
  FLUSH_DELAY_SECONDS: intVar("FLUSH_DELAY_SECONDS", 0, 3600).default(5),
  LEDGER_MAX_ROWS: intVar("LEDGER_MAX_ROWS", 1, 100_000_000).default(1_000_000),
  LEDGER_MAX_AGE_DAYS: intVar("LEDGER_MAX_AGE_DAYS", 1, 3650).default(30),
});

export interface Config {
  devRoutes: boolean;
  queues: { dlq: string; parking: string; demo: string; rawOrigin: string };
  ingestRetryDelaySeconds: number;
  demoBackoffBaseSeconds: number;
  classifierRules: ClassifierRule[];
  redactKeys: string[];
  flushDelayMs: number;
  retention: { maxRows: number; maxAgeMs: number };
}

const cache = new WeakMap<object, Config>();

export function readConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const parsed = ConfigVars.safeParse(env);
  if (!parsed.success) {
    throw new Error(`Invalid configuration: ${parsed.error.issues.map((i) => i.message).join("; ")}. Fix the [vars] in wrangler.toml.`);
  }
  const v = parsed.data;
  const config: Config = {
    devRoutes: v.DEV_ROUTES,
    queues: { dlq: v.DLQ_QUEUE, parking: v.PARKING_QUEUE, demo: v.DEMO_QUEUE, rawOrigin: v.RAW_ORIGIN_QUEUE },
    ingestRetryDelaySeconds: v.INGEST_RETRY_DELAY_SECONDS,
    demoBackoffBaseSeconds: v.DEMO_BACKOFF_BASE_SECONDS,
    classifierRules: v.CLASSIFIER_RULES,
    redactKeys: v.REDACT_KEYS,
    flushDelayMs: v.FLUSH_DELAY_SECONDS * 1000,
    retention: { maxRows: v.LEDGER_MAX_ROWS, maxAgeMs: v.LEDGER_MAX_AGE_DAYS * 24 * 60 * 60 * 1000 },
  };
  cache.set(env, config);
  return config;
}
