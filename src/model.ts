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

export interface ErrorInfo {
  name: string;
  message: string;
  status?: number;
  code?: string;
  stack?: string;
}

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
  /** Transient, between parsing and sealing in the consumer: never passed to the ledger. */
  unredactedBody?: string;
  attempts: number;
  firstFailedAt: number;
  lastFailedAt: number;
}
