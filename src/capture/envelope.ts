// The enriched envelope the capture helper sends to the dead-letter queue when a job fails
// for good. Versioned: the DLQ consumer accepts every version it knows.

import { z } from "zod";

/** Tenant ids name a Durable Object and a storage prefix: no path characters, no reserved `_`. */
export const TenantId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "tenantId must be 1-64 letters, digits, '.', '_' or '-', not starting with '_' or a dot");

export const JobId = z.string().min(1).max(256);

export const ErrorInfoSchema = z.object({
  name: z.string().max(256),
  message: z.string().max(16_384),
  status: z.number().int().min(100).max(599).optional(),
  code: z.union([z.string().max(256), z.number()]).transform(String).optional(),
  stack: z.string().max(32_768).optional(),
});

export const FailureEnvelopeV1 = z.object({
  v: z.literal(1),
  tenantId: TenantId,
  jobId: JobId,
  userId: z.string().min(1).max(256).optional(),
  queue: z.string().min(1).max(128),
  body: z.unknown(),
  error: ErrorInfoSchema,
  attempts: z.number().int().min(1).max(10_000),
  firstFailedAt: z.iso.datetime(),
  lastFailedAt: z.iso.datetime(),
});
export type FailureEnvelope = z.input<typeof FailureEnvelopeV1>;

/** True when a body claims to be an envelope (and so must parse as one or be quarantined). */
export function looksLikeEnvelope(body: unknown): boolean {
  return typeof body === "object" && body !== null && "v" in body && "error" in body;
}
