// D1 keeps each tenant's failures for D1_MAX_AGE_DAYS and at most D1_MAX_ROWS_PER_TENANT of
// them (the newest), and its users' notices for the same age. What leaves is counted by the
// tenant's ledger; the R2 archive keeps every occurrence. Bounded per pass, so a pass stays far
// inside D1's 30 s per batch.
//
// No index serves these deletes: an index on (tenant_id, last_failed_at) would be a row written
// per failure and per repeat, for a query that runs once a day. A pass reads the tenant's rows by
// the primary key's tenant_id prefix instead (rows read cost a thousandth of rows written); the
// tenant's ledger asks for a pass once a day (D1_RETENTION_EVERY_MS), so a row may outstay its
// bound by up to a day.

import { faultPoint } from "../faults";
import type { D1Retention } from "../model";
import { inSink } from "../sink-error";
import { prepare, sql } from "../sql";

/** Rows deleted per statement per pass; a full pass asks to run again at once. */
const D1_PRUNE_CHUNK = 2_000;
/**
 * Deletes at most 2 × D1_PRUNE_CHUNK failures of the tenant: how many left, and whether a full
 * chunk left more behind (the next pass must look again at once).
 */
export async function pruneTenant(db: D1Database, tenant: string, policy: D1Retention, now: number): Promise<{ deleted: number; more: boolean }> {
  return inSink("d1", async () => {
    faultPoint("d1.batch", tenant);
    const cutoff = now - policy.maxAgeMs;
    const [byAge, byRows] = await db.batch([
      prepare(
        db,
        sql`DELETE FROM failures WHERE tenant_id = ${tenant} AND job_id IN (
          SELECT job_id FROM failures WHERE tenant_id = ${tenant} AND last_failed_at < ${cutoff} LIMIT ${D1_PRUNE_CHUNK})`,
      ),
      // Sorting the tenant's rows only when there are more than the bound.
      prepare(
        db,
        sql`DELETE FROM failures WHERE tenant_id = ${tenant} AND job_id IN (
          SELECT job_id FROM failures WHERE tenant_id = ${tenant}
            AND (SELECT COUNT(*) FROM failures WHERE tenant_id = ${tenant}) > ${policy.maxRowsPerTenant}
          ORDER BY last_failed_at DESC, job_id DESC LIMIT ${D1_PRUNE_CHUNK} OFFSET ${policy.maxRowsPerTenant})`,
      ),
      // What hangs off failures goes with them: a recovery-queue row whose failure has left, and
      // the users' notices past the same age (the inbox would otherwise grow for good).
      prepare(
        db,
        sql`DELETE FROM dlq_recovery_queue WHERE tenant_id = ${tenant} AND job_id IN (
          SELECT q.job_id FROM dlq_recovery_queue q WHERE q.tenant_id = ${tenant}
            AND NOT EXISTS (SELECT 1 FROM failures f WHERE f.tenant_id = q.tenant_id AND f.job_id = q.job_id) LIMIT ${D1_PRUNE_CHUNK})`,
      ),
      prepare(
        db,
        sql`DELETE FROM user_notifications WHERE tenant_id = ${tenant} AND (user_id, created_at, id) IN (
          SELECT user_id, created_at, id FROM user_notifications WHERE tenant_id = ${tenant} AND created_at < ${cutoff} LIMIT ${D1_PRUNE_CHUNK})`,
      ),
    ]);
    const aged = byAge?.meta.changes ?? 0;
    const over = byRows?.meta.changes ?? 0;
    return { deleted: aged + over, more: aged >= D1_PRUNE_CHUNK || over >= D1_PRUNE_CHUNK };
  });
}
