// The RPC service users' workers bind to (a service binding with entrypoint "DlqLedgerService"),
// so the capture helper can report that re-enqueued jobs succeeded.

import { WorkerEntrypoint } from "cloudflare:workers";
import { z } from "zod";
import { JobId, TenantId } from "./envelope";
import { shardIfAssigned } from "./sinks/shards";
import { fitting, prepare, sql } from "./sql";

const Report = z.object({ tenantId: TenantId, jobIds: z.array(JobId).max(1000) });

/**
 * Marks as recovered those of `jobIds` that are open failures of `tenantId`. D1 is asked first
 * (rows read cost next to nothing), so batches of jobs that never failed wake no Durable Object.
 */
export async function reportSucceeded(env: Env, tenantId: string, jobIds: string[]): Promise<string[]> {
  const parsed = Report.safeParse({ tenantId, jobIds });
  if (!parsed.success) {
    // A plain error: its message survives the trip back over RPC, a ZodError's does not.
    throw new TypeError(`reportSucceeded: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
  }
  const report = parsed.data;
  const candidates: string[] = [];
  // A tenant that never flushed has no failures in D1 (nor any to recover).
  const db = await shardIfAssigned(env, report.tenantId);
  if (!db) return [];
  for (const chunk of fitting(report.jobIds, 1, 1)) {
    const { results } = await prepare(
      db,
      sql`SELECT job_id FROM failures WHERE tenant_id = ${report.tenantId} AND status NOT IN ('recovered', 'abandoned')
            AND job_id IN ${sql.list(chunk)}`,
    ).all<{ job_id: string }>();
    candidates.push(...results.map((r) => r.job_id));
  }
  if (candidates.length === 0) return [];
  return env.FAILURE_LEDGER.getByName(report.tenantId).reportSucceeded(candidates);
}

export class DlqLedgerService extends WorkerEntrypoint<Env> {
  async reportSucceeded(tenantId: string, jobIds: string[]): Promise<string[]> {
    return reportSucceeded(this.env, tenantId, jobIds);
  }
}
