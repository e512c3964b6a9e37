// The envelope the helper sends to the dead-letter queue when a job fails for good: its shape,
// its limits and its version. The DLQ consumer's validator is built from these (one source).

/** The version this helper sends. The DLQ consumer also accepts the one before it. */
export const ENVELOPE_VERSION = 2;

/** Tenant ids name a Durable Object and a storage prefix: no path characters, no reserved `_`. */
export const TENANT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Upper bounds, in UTF-16 units (string length) unless said otherwise. */
export const ENVELOPE_LIMITS = {
  jobId: 256,
  userId: 256,
  queue: 128,
  errorName: 256,
  errorMessage: 16_384,
  errorCode: 256,
  errorStack: 32_768,
  /** deliveries of one message */
  attempts: 10_000,
} as const;

export interface ErrorInfo {
  name: string;
  message: string;
  /** An HTTP status, 100-599. */
  status?: number;
  code?: string;
  stack?: string;
}

interface EnvelopeBase {
  tenantId: string;
  jobId: string;
  userId?: string;
  /** The origin queue. */
  queue: string;
  /** The job's body, as the consumer received it. */
  body: unknown;
  error: ErrorInfo;
  /** Deliveries so far, this one included. */
  attempts: number;
  /** ISO 8601: when the last attempt failed. */
  lastFailedAt: string;
}

/**
 * Version 2 (this helper) reports what it knows: when the message was enqueued. The ledger,
 * not the helper, decides what that says about the first failure.
 */
export interface FailureEnvelopeV2 extends EnvelopeBase {
  v: 2;
  /** ISO 8601: the origin message's timestamp (when it was first enqueued). */
  enqueuedAt: string;
}

/** Version 1 (helpers before 0.2): the helper estimated the first failure itself. */
export interface FailureEnvelopeV1 extends Omit<EnvelopeBase, "error"> {
  v: 1;
  error: Omit<ErrorInfo, "code"> & { code?: string | number };
  firstFailedAt: string;
}

export type FailureEnvelope = FailureEnvelopeV2;

export function isTenantId(value: unknown): value is string {
  return typeof value === "string" && TENANT_ID_PATTERN.test(value);
}

export function isJobId(value: unknown): value is string {
  return typeof value === "string" && value.length >= 1 && value.length <= ENVELOPE_LIMITS.jobId;
}
