// Classification by an ordered rule table: the first rule whose matchers all match decides.
// Operators prepend their own rules through the CLASSIFIER_RULES var (JSON), no code change.

import { z } from "zod";
import { FAILURE_CLASSES, type ErrorInfo, type FailureClass } from "../model";

export const ClassifierRule = z
  .object({
    class: z.enum(FAILURE_CLASSES),
    reason: z.string().min(1).max(200),
    status: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    name: z.array(z.string().min(1)).min(1).optional(),
    code: z.array(z.string().min(1)).min(1).optional(),
    /** A regular expression, matched case-insensitively against the error message. */
    message: z
      .string()
      .min(1)
      .max(500)
      .refine((source) => compiles(source), "message must be a valid regular expression")
      .optional(),
  })
  .strict()
  .refine((r) => r.status || r.name || r.code || r.message, "a rule needs at least one of status, name, code, message");
export type ClassifierRule = z.infer<typeof ClassifierRule>;
export const ClassifierRules = z.array(ClassifierRule).max(200);

function compiles(source: string): boolean {
  try {
    new RegExp(source, "i");
    return true;
  } catch {
    return false;
  }
}

/** The seed's table: transient faults retry, caller mistakes go to the user, our faults to ops. */
export const DEFAULT_RULES: readonly ClassifierRule[] = [
  { class: "RECOVERABLE", reason: "retryable HTTP status", status: [408, 425, 429, 503, 504] },
  { class: "USER_ERROR", reason: "client error status", status: [400, 401, 403, 404, 405, 409, 410, 413, 415, 422] },
  { class: "SYSTEM_ERROR", reason: "server error status", status: [500, 501, 502, 505, 507, 508] },
  {
    class: "RECOVERABLE",
    reason: "transient network error",
    code: ["ETIMEDOUT", "ECONNRESET", "ECONNREFUSED", "ECONNABORTED", "EAI_AGAIN", "EPIPE", "RATE_LIMITED"],
  },
  { class: "RECOVERABLE", reason: "timeout", name: ["TimeoutError"] },
  { class: "USER_ERROR", reason: "invalid input", name: ["ValidationError", "ZodError"] },
  {
    class: "RECOVERABLE",
    reason: "transient error message",
    message:
      "timed? ?out|rate.?limit|too many requests|temporarily unavailable|service unavailable|try again|overloaded|socket hang up|connection reset",
  },
  {
    class: "USER_ERROR",
    reason: "user error message",
    message: "invalid|not found|validation|malformed|missing required|unprocessable|bad request|unauthori[sz]ed|forbidden",
  },
  {
    class: "SYSTEM_ERROR",
    reason: "system error message",
    message: "internal (server )?error|database|out of memory|bad gateway|cannot read propert|is not a function|undefined is not",
  },
];

export interface Classification {
  class: FailureClass;
  reason: string;
}

export type Classifier = (error: ErrorInfo) => Classification;

export function createClassifier(customRules: readonly ClassifierRule[] = []): Classifier {
  const rules = [...customRules, ...DEFAULT_RULES].map((rule) => ({
    rule,
    names: rule.name?.map((n) => n.toLowerCase()),
    codes: rule.code?.map((c) => c.toLowerCase()),
    message: rule.message ? new RegExp(rule.message, "i") : undefined,
  }));
  return (error) => {
    const name = error.name.toLowerCase();
    const code = error.code?.toLowerCase();
    for (const { rule, names, codes, message } of rules) {
      if (rule.status && (error.status === undefined || !rule.status.includes(error.status))) continue;
      if (names && !names.includes(name)) continue;
      if (codes && (code === undefined || !codes.includes(code))) continue;
      if (message && !message.test(error.message)) continue;
      return { class: rule.class, reason: rule.reason };
    }
    return { class: "UNKNOWN", reason: "unclassified" };
  };
}
