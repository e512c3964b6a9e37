// The demo job: what POST /jobs enqueues and the consumer runs. `fail` says how it behaves.

import { ENVELOPE_LIMITS, TENANT_ID_PATTERN } from "@dlq-ledger/capture";
import { z } from "zod";

// The ids dlq-ledger files failures under: a job outside them would be dead-lettered raw.
const TenantId = z.string().regex(TENANT_ID_PATTERN, "tenantId must be 1-64 letters, digits, '.', '_' or '-', not starting with '_' or a dot");
const JobId = z.string().min(1).max(ENVELOPE_LIMITS.jobId);

export const JobFailure = z.union([
  z.literal("none"),
  /** Fails past the capture helper, as a real crash would: the platform dead-letters the raw body. */
  z.literal("crash"),
  z
    .object({
      message: z.string().min(1).max(4096),
      status: z.number().int().min(100).max(599).optional(),
      code: z.string().min(1).max(128).optional(),
      name: z.string().min(1).max(128).optional(),
    })
    .strict(),
]);

export const Job = z.object({
  tenantId: TenantId,
  jobId: JobId,
  userId: z.string().min(1).max(256).optional(),
  fail: JobFailure,
  /** Fail the first n deliveries (dlq-ledger's recovery retries included), then succeed. */
  succeedAfter: z.number().int().min(0).max(100).optional(),
});
export type Job = z.infer<typeof Job>;

export const EnqueueRequest = z
  .object({
    tenantId: TenantId,
    jobId: JobId.optional(),
    userId: z.string().min(1).max(256).optional(),
    count: z.number().int().min(1).max(1000).default(1),
    fail: JobFailure,
    succeedAfter: z.number().int().min(0).max(100).optional(),
  })
  .strict()
  .refine((r) => r.succeedAfter === undefined || r.fail !== "crash", { message: "succeedAfter does not apply to crashes", path: ["succeedAfter"] });

/** The jobs one request enqueues: `jobId`, or `jobId-1` … `jobId-n`, or random ids. */
export function jobsOf(input: z.output<typeof EnqueueRequest>): Job[] {
  return Array.from({ length: input.count }, (_, i) => ({
    tenantId: input.tenantId,
    jobId: input.jobId ? (input.count === 1 ? input.jobId : `${input.jobId}-${i + 1}`) : `job-${crypto.randomUUID()}`,
    ...(input.userId === undefined ? {} : { userId: input.userId }),
    fail: input.fail,
    ...(input.succeedAfter === undefined ? {} : { succeedAfter: input.succeedAfter }),
  }));
}
