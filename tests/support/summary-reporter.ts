/**
 * Prints one plain closing line, `tests: N passed, N failed, N skipped`, that any CI log reader can
 * count, and repeats every skipped test's name so a skip is never silent. A failed hook or module counts
 * as a failure, so tests skipped because of it never read as a clean run.
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const skipped: string[] = [];
    for (const testModule of testModules) {
      // A suite whose hooks failed leaves its tests skipped: count the failure itself.
      counts.failed += testModule.errors().length;
      for (const suite of testModule.children.allSuites()) counts.failed += suite.errors().length;
      for (const test of testModule.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") counts.passed++;
        else if (state === "failed") counts.failed++;
        else {
          counts.skipped++;
          skipped.push(`${testModule.moduleId.replace(`${process.cwd()}/`, "")} > ${test.fullName}`);
        }
      }
    }
    for (const name of skipped) console.log(`SKIPPED: ${name}`);
    console.log(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  }
}
