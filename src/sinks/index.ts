// The ledger's sinks as deployed: R2, D1 (the tenant's shard), Analytics Engine and webhooks,
// behind the one interface the ledger knows (LedgerSinks, src/model.ts).

import type { LedgerSinks } from "../model";
import { inSink } from "../sink-error";
import { writeFailurePoints } from "./analytics";
import { putSegment } from "./archive";
import { failureStatements, groupStatements, noticeStatements, summaryStatement, writeD1Batch } from "./d1";
import { pruneTenant } from "./d1-retention";
import { shardFor } from "./shards";
import { outboundRequest, send } from "./webhooks";

export function sinksFor(env: Env): LedgerSinks {
  const shard = (tenant: string) => inSink("d1", () => shardFor(env, tenant));
  return {
    putSegment: (tenant, key, bytes) => putSegment(env.ARCHIVE, tenant, key, bytes),
    async writeD1(tenant, flush, now) {
      const db = await shard(tenant);
      return writeD1Batch(db, tenant, [
        ...failureStatements(db, tenant, flush.failures, now),
        ...groupStatements(db, tenant, flush.groups),
        ...noticeStatements(db, tenant, flush.notices),
        summaryStatement(db, tenant, flush.summary, now),
      ]);
    },
    pruneD1: async (tenant, policy, now) => pruneTenant(await shard(tenant), tenant, policy, now),
    writePoints: (tenant, occurrences) => writeFailurePoints(env.FAILURE_EVENTS, tenant, occurrences),
    async deliver(notify, destination, payload, now) {
      const request = await outboundRequest(notify, destination, payload, now);
      return request ? send(destination, request, now) : null;
    },
  };
}
