// withFailureCapture(): wraps a per-message consumer so that a job which fails for good reaches
// the dead-letter queue as an enriched envelope (the platform itself forwards only the body).
//
//   export default {
//     queue: withFailureCapture(async (message, env) => { ... }, {
//       deadLetterQueue: (env) => env.DLQ,
//       maxRetries: 3, // the consumer's max_retries in wrangler.toml
//     }),
//   } satisfies ExportedHandler<Env, Job>;

import { ENVELOPE_LIMITS, ENVELOPE_VERSION, isJobId, isTenantId, type ErrorInfo, type FailureEnvelope } from "./envelope.js";

export * from "./envelope.js";

/** Processes one message; resolving means success, throwing (or rejecting) means failure. */
export type CaptureMessageHandler<Body, E> = (message: Message<Body>, env: E, ctx: ExecutionContext) => unknown;

/** What the returned handler reads of a batch: a real `MessageBatch<Body>` or a subset of one. */
export type CaptureBatch<Body> = Pick<MessageBatch<Body>, "queue" | "messages">;

export type CaptureQueueHandler<Body, E> = (batch: CaptureBatch<Body>, env: E, ctx: ExecutionContext) => Promise<void>;

export interface IdAccessors<Body> {
  /** Default: `body.tenantId`. Must match `TENANT_ID_PATTERN`, or no envelope is sent (see below). */
  tenantId?: (body: Body) => string | undefined;
  /** Default: `body.jobId ?? body.id`. Numbers are stringified. */
  jobId?: (body: Body) => string | number | undefined;
  /** Default: `body.userId`. Dropped when it is not a 1-256 character string. */
  userId?: (body: Body) => string | undefined;
}

export interface BackoffOptions {
  /** Delay before the second attempt; doubles on each further attempt. Default 5. */
  baseSeconds?: number;
  /** Upper bound of one delay. Default and maximum 43200 (the platform's 12 h cap). */
  maxSeconds?: number;
}

/** What the capture helper calls to report successes: dlq-ledger's DlqLedgerService binding fits. */
export interface SuccessReporter {
  reportSucceeded(tenantId: string, jobIds: string[]): Promise<unknown>;
}

export interface FailureCaptureOptions<Body, E> extends IdAccessors<Body> {
  /** The producer binding of the dead-letter queue the DLQ consumer reads. */
  deadLetterQueue: (env: E) => Queue;
  /**
   * Must equal the consumer's `max_retries` in wrangler.toml (default 3). Larger, and the
   * platform dead-letters the raw body before we send an envelope; smaller, and the job is
   * dead-lettered before the retries it was configured for.
   */
  maxRetries?: number;
  backoff?: BackoffOptions;
  /** The origin queue named in envelopes. Default: the batch's queue. */
  queueName?: string;
  /** How many messages are processed at once, 1-100. Default 1 (in order). */
  concurrency?: number;
  /** Time source, in ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /**
   * Reports the batch's successful jobs (one call per tenant per batch), so that a job the
   * ledger re-enqueued is marked recovered. Without it, a retried job that stays quiet is
   * presumed recovered after a while. A failed report never fails the batch.
   */
  reportSuccess?: (env: E) => SuccessReporter | undefined;
}

/** The platform's cap on `delaySeconds`. */
export const MAX_DELAY_SECONDS = 43_200;

export function withFailureCapture<Body, E>(
  handler: CaptureMessageHandler<Body, E>,
  options: FailureCaptureOptions<Body, E>,
): CaptureQueueHandler<Body, E> {
  const maxRetries = checkInt("maxRetries", options.maxRetries ?? 3, 0, 100);
  const baseSeconds = checkNumber("backoff.baseSeconds", options.backoff?.baseSeconds ?? 5, 0, MAX_DELAY_SECONDS);
  const maxSeconds = checkNumber("backoff.maxSeconds", options.backoff?.maxSeconds ?? MAX_DELAY_SECONDS, 0, MAX_DELAY_SECONDS);
  const concurrency = checkInt("concurrency", options.concurrency ?? 1, 1, 100);
  const now = options.now ?? Date.now;

  return async (batch, env, ctx) => {
    const queue = options.queueName ?? batch.queue;
    const succeeded: Message<Body>[] = [];

    /** Settles one message; never throws. Returns the error of a failed envelope send. */
    const settle = async (message: Message<Body>): Promise<{ error: unknown } | undefined> => {
      let failure: unknown;
      try {
        await handler(message, env, ctx);
        message.ack();
        succeeded.push(message);
        return undefined;
      } catch (error) {
        failure = error;
      }

      if (message.attempts < maxRetries + 1) {
        message.retry({ delaySeconds: backoffSeconds(message.attempts, baseSeconds, maxSeconds) });
        return undefined;
      }

      try {
        const envelope = buildEnvelope(message, failure, { queue, now: now(), ids: options });
        if (!envelope) {
          // No tenant or job id to file it under. Rather than an envelope the DLQ consumer would
          // quarantine, let the platform dead-letter the raw body (this is the last attempt); the
          // DLQ consumer quarantines raw bodies without a tenant, so nothing is lost.
          console.warn(`withFailureCapture: message ${message.id} on ${queue} has no valid tenantId/jobId; dead-lettering it raw`);
          message.retry();
          return undefined;
        }
        await options.deadLetterQueue(env).send(envelope, { contentType: "json" });
        message.ack();
        return undefined;
      } catch (error) {
        // Last attempt: the platform's own dead-lettering takes the raw body instead.
        message.retry();
        return { error };
      }
    };

    const messages = batch.messages;
    const results: ({ error: unknown } | undefined)[] = [];
    let next = 0;
    const worker = async () => {
      while (next < messages.length) {
        const index = next++;
        results[index] = await settle(messages[index]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, messages.length) }, worker));

    if (options.reportSuccess && succeeded.length > 0) await report(options.reportSuccess(env), succeeded, options);

    // Every message is settled by now; failing the invocation only makes the lost envelopes visible.
    const errors = results.flatMap((r) => (r ? [r.error] : []));
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, `withFailureCapture: ${errors.length} failure envelopes could not be sent`);
  };
}

async function report<Body>(reporter: SuccessReporter | undefined, messages: Message<Body>[], ids: IdAccessors<Body>): Promise<void> {
  if (!reporter) return;
  const byTenant = new Map<string, string[]>();
  for (const message of messages) {
    const found = jobIdentity(message.body, ids);
    if (found) byTenant.set(found.tenantId, [...(byTenant.get(found.tenantId) ?? []), found.jobId]);
  }
  await Promise.all(
    [...byTenant].map(async ([tenant, jobIds]) => {
      try {
        await reporter.reportSucceeded(tenant, jobIds);
      } catch (error) {
        console.warn(`withFailureCapture: could not report ${jobIds.length} success(es) of ${tenant}; they will be presumed recovered`, error);
      }
    }),
  );
}

/** `min(max, base * 2^(attempts-1))`, in whole seconds. */
export function backoffSeconds(attempts: number, baseSeconds = 5, maxSeconds = MAX_DELAY_SECONDS): number {
  const delay = baseSeconds * 2 ** Math.max(0, attempts - 1);
  return Math.ceil(Math.min(maxSeconds, MAX_DELAY_SECONDS, delay));
}

export interface EnvelopeContext<Body> {
  /** The origin queue. */
  queue: string;
  /** Time of this (last) failure, ms since the epoch. */
  now: number;
  ids?: IdAccessors<Body>;
}

/**
 * The envelope for a message that failed on its last attempt, or null when its body yields no
 * valid tenant id or job id.
 */
export function buildEnvelope<Body>(message: Message<Body>, error: unknown, context: EnvelopeContext<Body>): FailureEnvelope | null {
  const body = message.body;
  const ids = context.ids ?? {};
  const found = jobIdentity(body, ids);
  if (!found) return null;
  const userId = ids.userId ? ids.userId(body) : field(body, "userId");

  return {
    v: ENVELOPE_VERSION,
    tenantId: found.tenantId,
    jobId: found.jobId,
    ...(typeof userId === "string" && userId.length >= 1 && userId.length <= ENVELOPE_LIMITS.userId ? { userId } : {}),
    queue: context.queue,
    body,
    error: describeError(error),
    attempts: message.attempts,
    enqueuedAt: message.timestamp.toISOString(),
    lastFailedAt: new Date(context.now).toISOString(),
  };
}

/** The tenant and job a body belongs to, through the accessors; null when either is missing or invalid. */
function jobIdentity<Body>(body: Body, ids: IdAccessors<Body>): { tenantId: string; jobId: string } | null {
  const tenantId = ids.tenantId ? ids.tenantId(body) : field(body, "tenantId");
  const rawJobId = ids.jobId ? ids.jobId(body) : (field(body, "jobId") ?? field(body, "id"));
  const jobId = typeof rawJobId === "number" ? String(rawJobId) : rawJobId;
  return isTenantId(tenantId) && isJobId(jobId) ? { tenantId, jobId } : null;
}

export function describeError(error: unknown): ErrorInfo {
  const info: ErrorInfo =
    error instanceof Error
      ? {
          name: truncate(typeof error.name === "string" ? error.name : "Error", ENVELOPE_LIMITS.errorName),
          message: truncate(String(error.message), ENVELOPE_LIMITS.errorMessage),
        }
      : { name: "NonError", message: truncate(safeString(error), ENVELOPE_LIMITS.errorMessage) };

  // Read from thrown objects too: `throw { status: 503 }` still says what went wrong.
  const status = field(error, "status") ?? field(error, "statusCode");
  if (typeof status === "number" && Number.isInteger(status) && status >= 100 && status <= 599) info.status = status;
  const code = field(error, "code");
  if (typeof code === "string" || (typeof code === "number" && Number.isFinite(code))) {
    info.code = truncate(String(code), ENVELOPE_LIMITS.errorCode);
  }
  if (error instanceof Error && typeof error.stack === "string") info.stack = truncate(error.stack, ENVELOPE_LIMITS.errorStack);
  return info;
}

function field(value: unknown, key: string): unknown {
  if (typeof value !== "object" || value === null) return undefined;
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined; // a throwing getter
  }
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value); // e.g. an object without a prototype
  }
}

/** Cuts to at most `max` UTF-16 units (the schema's measure) without splitting a surrogate pair. */
function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return text.slice(0, end);
}

function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`withFailureCapture: ${name} must be a whole number from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function checkNumber(name: string, value: number, min: number, max: number): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new RangeError(`withFailureCapture: ${name} must be a number from ${min} to ${max}, got ${value}`);
  }
  return value;
}
