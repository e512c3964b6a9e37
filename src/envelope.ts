// The DLQ consumer's validator of the capture helper's envelope, and the id rules shared with the
// API. Shapes and limits come from @dlq-ledger/capture (the one source of the envelope); the
// assertions at the bottom fail the type check if the two ever drift apart.

import {
  ENVELOPE_LIMITS as L,
  TENANT_ID_PATTERN,
  type FailureEnvelopeV1 as EnvelopeV1Type,
  type FailureEnvelopeV2 as EnvelopeV2Type,
} from "@dlq-ledger/capture";
import { z } from "zod";
import type { Same } from "./same";

export const TenantId = z
  .string()
  .regex(TENANT_ID_PATTERN, "tenantId must be 1-64 letters, digits, '.', '_' or '-', not starting with '_' or a dot");

// A lone surrogate has no UTF-8 form: SQLite would store another id than the one looked up.
export const JobId = z
  .string()
  .min(1)
  .max(L.jobId)
  .refine((id) => !/\p{Cs}/u.test(id), "jobId must be well-formed text (it has a lone surrogate)");

const errorFields = {
  name: z.string().max(L.errorName),
  message: z.string().max(L.errorMessage),
  status: z.number().int().min(100).max(599).optional(),
  stack: z.string().max(L.errorStack).optional(),
};

const common = {
  tenantId: TenantId,
  jobId: JobId,
  userId: z.string().min(1).max(L.userId).optional(),
  queue: z.string().min(1).max(L.queue),
  body: z.unknown(),
  attempts: z.number().int().min(1).max(L.attempts),
  lastFailedAt: z.iso.datetime(),
};

/** Sent by helpers before 0.2: the helper estimated `firstFailedAt` itself. */
export const FailureEnvelopeV1 = z.object({
  v: z.literal(1),
  ...common,
  error: z.object({ ...errorFields, code: z.union([z.string().max(L.errorCode), z.number()]).transform(String).optional() }),
  firstFailedAt: z.iso.datetime(),
});

/** The current version: the helper says when the message was enqueued. */
export const FailureEnvelopeV2 = z.object({
  v: z.literal(2),
  ...common,
  error: z.object({ ...errorFields, code: z.string().max(L.errorCode).optional() }),
  enqueuedAt: z.iso.datetime(),
});

/** Every envelope version the DLQ consumer accepts: the current one and the one before. */
export const FailureEnvelope = z.discriminatedUnion("v", [FailureEnvelopeV1, FailureEnvelopeV2]);
export type FailureEnvelope = z.output<typeof FailureEnvelope>;

/** True when a body claims to be an envelope (and so must parse as one or be quarantined). */
export function looksLikeEnvelope(body: unknown): boolean {
  return typeof body === "object" && body !== null && "v" in body && "error" in body;
}

/**
 * When the job first failed. A v1 envelope says (its helper's estimate); for v2 the earliest
 * bound known is the enqueue time, unless this was the only attempt.
 */
export function firstFailedAt(envelope: FailureEnvelope): number {
  const last = Date.parse(envelope.lastFailedAt);
  if (envelope.v === 1) return Date.parse(envelope.firstFailedAt);
  return envelope.attempts <= 1 ? last : Math.min(Date.parse(envelope.enqueuedAt), last);
}

const sameV1: Same<z.input<typeof FailureEnvelopeV1>, EnvelopeV1Type> = true;
const sameV2: Same<z.input<typeof FailureEnvelopeV2>, EnvelopeV2Type> = true;
void sameV1;
void sameV2;
