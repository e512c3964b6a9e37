// Carries results out of workerd: each bench test puts its figures in `task.meta.bench`, vitest
// hands the meta to reporters in Node, and this one writes them all to $BENCH_OUT as JSON.

import { writeFileSync } from "node:fs";
import type { Reporter, TestCase, TestModule } from "vitest/node";

export default class BenchReporter implements Reporter {
  private readonly results: Record<string, unknown> = {};
  private readonly failed: string[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const meta = testCase.meta() as { bench?: unknown };
    if (meta.bench !== undefined) this.results[testCase.fullName] = meta.bench;
    if (testCase.result().state === "failed") this.failed.push(testCase.fullName);
  }

  onTestRunEnd(_modules: ReadonlyArray<TestModule>): void {
    const out = process.env.BENCH_OUT;
    if (!out) return;
    writeFileSync(out, JSON.stringify({ results: this.results, failed: this.failed }, null, 2));
  }
}
