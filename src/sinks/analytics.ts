// Analytics Engine: one data point per failure occurrence, for dashboards across tenants.

import { faultPoint } from "../faults";
import type { ArchivedOccurrence } from "../model";
import { inSink } from "../sink-error";

export async function writeFailurePoints(dataset: AnalyticsEngineDataset, tenant: string, occurrences: readonly ArchivedOccurrence[]): Promise<void> {
  await inSink("analytics", () => {
    faultPoint("analytics.write", tenant);
    for (const o of occurrences) {
      dataset.writeDataPoint({
        indexes: [tenant],
        blobs: [tenant, o.class, o.queue, o.fingerprint, o.jobId],
        doubles: [o.attempts, 1],
      });
    }
  });
}
