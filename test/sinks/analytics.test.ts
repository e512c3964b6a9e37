// Analytics Engine gets one data point per group, class and queue per flush, carrying its counts.
import { describe, expect, it } from "vitest";
import type { ArchivedOccurrence } from "../../src/model";
import { failurePoints } from "../../src/sinks/analytics";
import { failureInput } from "../support/failures";

const occurrence = (o: Partial<ArchivedOccurrence>): ArchivedOccurrence => ({ ...failureInput(o), tenantId: "t", recordedAt: 0, ...o });

describe("Analytics Engine points", () => {
  it("sums a flush's occurrences per group, class and queue, losing none", () => {
    const occurrences = [
      occurrence({ fingerprint: "g1", attempts: 3 }),
      occurrence({ fingerprint: "g1", attempts: 5 }),
      occurrence({ fingerprint: "g1", attempts: 1, queue: "other" }),
      occurrence({ fingerprint: "g2", attempts: 2, class: "USER_ERROR" }),
      occurrence({ fingerprint: "g1", attempts: 4 }),
    ];
    const points = failurePoints(occurrences);
    expect(points).toEqual([
      { fingerprint: "g1", class: "SYSTEM_ERROR", queue: "jobs", attempts: 12, occurrences: 3 },
      { fingerprint: "g1", class: "SYSTEM_ERROR", queue: "other", attempts: 1, occurrences: 1 },
      { fingerprint: "g2", class: "USER_ERROR", queue: "jobs", attempts: 2, occurrences: 1 },
    ]);
    expect(points.reduce((n, p) => n + p.occurrences, 0)).toBe(occurrences.length);
  });
});
