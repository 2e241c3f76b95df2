/**
 * `pnpm bench:faults`: the engine suite's fault matrix (tests/engine/faults.ts) run whole under the real
 * engine, against a throwaway PostgreSQL cluster, the Cloudflare API and registry stand-ins behind fault
 * proxies, and the Worker in workerd. For each case: did the faulted up end within its configured limit,
 * was its error the operator's sentence, was anything duplicated, did the next up converge.
 * Prints `faults: cases=N bounded=N/N clear_errors=N/N duplicates=0 converged=N/N max_overrun_s=…`.
 * Goals: all N/N, duplicates=0, max_overrun_s <= 5 (seconds past the limit, from the first injected fault to
 * the end of the up, CLI teardown included).
 */

import { FAULT_CASES, FaultMatrix, type FaultResult } from "../tests/engine/faults";
import { engineMissing } from "../tests/engine/harness";
import { EngineScenario } from "../tests/engine/scenario";
import { benchSize } from "./bench-support";

const GOAL_OVERRUN_SECONDS = 5;
/** The whole matrix, or its first cases in the short mode. */
const CASES = FAULT_CASES.slice(0, benchSize(FAULT_CASES.length, 2));

async function main(): Promise<void> {
  const missing = engineMissing();
  if (missing) throw new Error(missing);
  const scenario = await EngineScenario.start();
  const results: FaultResult[] = [];
  try {
    const matrix = await FaultMatrix.start(scenario);
    try {
      for (const fault of CASES) results.push(await matrix.run(fault));
    } finally {
      await matrix.close();
    }
  } finally {
    await scenario.close();
  }
  for (const result of results.filter((each) => each.problems.length > 0))
    console.error(`${result.name}: ${result.problems.join("; ")}`);
  const n = results.length;
  const count = (test: (result: FaultResult) => boolean) => results.filter(test).length;
  const bounded = count((result) => result.asExpected && result.overrunSeconds <= GOAL_OVERRUN_SECONDS);
  const worst = Math.max(...results.map((result) => result.overrunSeconds));
  console.log(
    `faults: cases=${n} bounded=${bounded}/${n} clear_errors=${count((result) => result.clearError)}/${n} duplicates=${results.reduce((sum, result) => sum + result.duplicates, 0)} converged=${count((result) => result.converged)}/${n} max_overrun_s=${worst.toFixed(1)}`,
  );
}

main().catch((error: unknown) => {
  console.error(`bench:faults: ${(error as Error).message}`);
  process.exit(1);
});
