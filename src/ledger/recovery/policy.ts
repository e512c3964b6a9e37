// Who may be retried automatically, how long to wait, and through which producer binding.

import type { RecoveryConfig, RecoveryPolicy } from "../../config";
import type { FailureClass } from "../../model";

export function policyFor(config: RecoveryConfig, queue: string): RecoveryPolicy {
  return config.perQueue[queue] ?? config.defaults;
}

/** Exponential backoff with full jitter: uniform in [1 s, min(cap, base·2^(attempt-1))]. */
export function backoffMs(policy: RecoveryPolicy, attempt: number, random: () => number): number {
  const ceiling = Math.min(policy.capSeconds, policy.baseSeconds * 2 ** Math.min(attempt - 1, 30)) * 1000;
  return Math.max(1000, Math.floor(random() * ceiling));
}

/** The producer binding that sends to `queue`, if one is configured and bound. */
export function producerFor(env: Env, config: RecoveryConfig, queue: string): Queue | null {
  const name = config.origins[queue];
  if (!name) return null;
  const binding = (env as unknown as Record<string, unknown>)[name];
  return binding && typeof (binding as Queue).sendBatch === "function" ? (binding as Queue) : null;
}

export interface Retryable {
  class: FailureClass;
  queue: string;
  bodyRedacted: boolean;
  hasSealedBody: boolean;
}

/** Why a failure cannot be retried automatically, or null when it can. */
export function retryBlocker(f: Retryable, config: RecoveryConfig, env: Env): string | null {
  if (f.class !== "RECOVERABLE") return `class ${f.class} is not retried automatically`;
  if (policyFor(config, f.queue).maxAttempts === 0) return `recovery is off for queue ${f.queue}`;
  return sendBlocker(f, config, env);
}

/** Why a failure cannot be sent back at all (manual requeue), or null. */
export function sendBlocker(f: Omit<Retryable, "class">, config: RecoveryConfig, env: Env): string | null {
  if (!producerFor(env, config, f.queue)) return `no producer binding for queue ${f.queue} in ORIGIN_QUEUES`;
  if (f.bodyRedacted && !f.hasSealedBody) return "the body was redacted and its original is not kept sealed (RETRY_SEAL_KEY is not set, or the job was recovered or abandoned), so it cannot be sent unchanged";
  return null;
}
