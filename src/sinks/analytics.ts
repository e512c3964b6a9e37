// Analytics Engine, for dashboards across tenants: one data point per group, queue and class per
// flush, carrying how many occurrences it stands for. A point is the unit billed, so a failure
// storm of one error costs one point per flush instead of one per occurrence.
//
// index1 tenant (the sampling key) · blob1 tenant · blob2 class · blob3 queue · blob4 group
// fingerprint · double1 attempts summed over the occurrences · double2 occurrences. The doubles
// keep the meaning they had when each point was one occurrence (attempts, 1), so sums across
// older and newer points agree. Queries weigh by sampling: SUM(_sample_interval * double2) is the
// number of failures (docs/ARCHITECTURE.md, "Analytics Engine: the queries it answers").

import { faultPoint } from "../faults";
import type { ArchivedOccurrence } from "../model";
import { inSink } from "../sink-error";

interface FailurePoint {
  class: string;
  queue: string;
  fingerprint: string;
  attempts: number;
  occurrences: number;
}

/** The occurrences of one flush, summed per group, class and queue (in order of first appearance). */
export function failurePoints(occurrences: readonly ArchivedOccurrence[]): FailurePoint[] {
  const points = new Map<string, FailurePoint>();
  for (const o of occurrences) {
    const key = JSON.stringify([o.fingerprint, o.class, o.queue]);
    const point = points.get(key);
    if (point) {
      point.attempts += o.attempts;
      point.occurrences++;
    } else {
      points.set(key, { class: o.class, queue: o.queue, fingerprint: o.fingerprint, attempts: o.attempts, occurrences: 1 });
    }
  }
  return [...points.values()];
}

export async function writeFailurePoints(dataset: AnalyticsEngineDataset, tenant: string, occurrences: readonly ArchivedOccurrence[]): Promise<void> {
  await inSink("analytics", () => {
    faultPoint("analytics.write", tenant);
    for (const p of failurePoints(occurrences)) {
      dataset.writeDataPoint({
        indexes: [tenant],
        blobs: [tenant, p.class, p.queue, p.fingerprint],
        doubles: [p.attempts, p.occurrences],
      });
    }
  });
}
