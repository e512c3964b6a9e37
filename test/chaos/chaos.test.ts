import { inject } from "vitest";
import { afterEach, describe, expect, it } from "vitest";
import { disarmFaults } from "../../src/faults";
import { runChaos } from "./harness";

afterEach(() => disarmFaults());

// `npm run chaos` runs bigger workloads and more seeds (see vitest.config.ts); `npm test` a small fixed one.
const options = inject("chaos");

describe("chaos: faults everywhere, nothing lost", () => {
  for (const seed of options.seeds) {
    it(`seed ${seed}: ${options.jobs} jobs across ${options.tenants} tenants`, { timeout: options.timeoutMs }, async () => {
      const report = await runChaos({ seed, jobs: options.jobs, tenants: options.tenants });
      console.log(`chaos ${JSON.stringify(report)}`);
      expect(report.problems).toEqual([]);
      expect({ lost: report.lost, duplicated: report.duplicated, unexpected: report.unexpected }).toEqual({ lost: 0, duplicated: 0, unexpected: 0 });
      expect(report.occurrences).toBeGreaterThan(options.jobs);
    });
  }
});
