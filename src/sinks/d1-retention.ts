// D1 keeps each tenant's failures for D1_MAX_AGE_DAYS and at most D1_MAX_ROWS_PER_TENANT of
// them (the newest), and its users' notices for the same age. What leaves is counted by the tenant's ledger; the R2 archive keeps every
// occurrence. Bounded per pass, so a pass stays far inside D1's 30 s per batch.

import { faultPoint } from "../faults";
import { inSink } from "../sink-error";

/** Rows deleted per statement per pass; a full pass asks to run again at once. */
export const D1_PRUNE_CHUNK = 2_000;

export interface D1Retention {
  maxRowsPerTenant: number;
  maxAgeMs: number;
}

/** Deletes at most 2 × D1_PRUNE_CHUNK failures of the tenant; returns how many left. */
export async function pruneTenant(db: D1Database, tenant: string, policy: D1Retention, now: number): Promise<number> {
  return inSink("d1", async () => {
    faultPoint("d1.batch", tenant);
    const [byAge, byRows] = await db.batch([
      db
        .prepare(
          `DELETE FROM failures WHERE tenant_id = ? AND job_id IN (
             SELECT job_id FROM failures WHERE tenant_id = ? AND last_failed_at < ? LIMIT ?)`,
        )
        .bind(tenant, tenant, now - policy.maxAgeMs, D1_PRUNE_CHUNK),
      db
        .prepare(
          `DELETE FROM failures WHERE tenant_id = ? AND job_id IN (
             SELECT job_id FROM failures WHERE tenant_id = ?
             ORDER BY last_failed_at DESC, job_id DESC LIMIT ? OFFSET ?)`,
        )
        .bind(tenant, tenant, D1_PRUNE_CHUNK, policy.maxRowsPerTenant),
      // What hangs off failures goes with them: a recovery-queue row whose failure has left, and
      // the users' notices past the same age (the inbox would otherwise grow for good).
      db
        .prepare(
          `DELETE FROM dlq_recovery_queue WHERE tenant_id = ? AND job_id IN (
             SELECT q.job_id FROM dlq_recovery_queue q WHERE q.tenant_id = ?
               AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.tenant_id = q.tenant_id AND f.job_id = q.job_id) LIMIT ?)`,
        )
        .bind(tenant, tenant, D1_PRUNE_CHUNK),
      db
        .prepare(
          `DELETE FROM user_notifications WHERE tenant_id = ? AND id IN (
             SELECT id FROM user_notifications WHERE tenant_id = ? AND created_at < ? LIMIT ?)`,
        )
        .bind(tenant, tenant, now - policy.maxAgeMs, D1_PRUNE_CHUNK),
    ]);
    return (byAge?.meta.changes ?? 0) + (byRows?.meta.changes ?? 0);
  });
}
