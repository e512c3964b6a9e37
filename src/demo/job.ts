// The demo job: what POST /dev/jobs enqueues and the demo consumer runs.

import { z } from "zod";
import { JobId, TenantId } from "../capture/envelope";

export const DemoFailure = z.union([
  z.literal("none"),
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

export const DemoJob = z.object({
  tenantId: TenantId,
  jobId: JobId,
  userId: z.string().min(1).max(256).optional(),
  fail: DemoFailure,
  /** Fail the first n deliveries (recovery re-enqueues included), then succeed. */
  succeedAfter: z.number().int().min(0).max(100).optional(),
});
export type DemoJob = z.infer<typeof DemoJob>;
