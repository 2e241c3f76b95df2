// The fault matrix (tests/engine/faults.ts) under the real Pulumi engine (CLI v3.274.1), against real
// PostgreSQL, the Cloudflare API and registry stand-ins behind fault proxies, and the Worker in workerd with
// a container double. Each case: the fault, an up that ends as the case says within its limit, and a clean
// up that converges with nothing duplicated.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FAULT_CASES, FaultMatrix } from "./faults";
import { EngineScenario } from "./scenario";
import { database, missing } from "./suite";

/** The goal: no configured limit is exceeded by more than this. */
const MAX_OVERRUN_SECONDS = 5;

describe.skipIf(missing !== undefined)(
  "real Pulumi engine under injected faults: bounded, retried only when safe, clear errors, nothing duplicated, the next up converges (real PostgreSQL; Cloudflare API, registry and /health through fault proxies in front of the stand-ins and workerd)",
  () => {
    let scenario: EngineScenario;
    let matrix: FaultMatrix;

    beforeAll(async () => {
      scenario = await EngineScenario.start(database);
      matrix = await FaultMatrix.start(scenario);
    });
    afterAll(async () => {
      await matrix?.close();
      await scenario?.close();
    });

    for (const fault of FAULT_CASES) {
      it(`${fault.provider}: ${fault.what}`, async () => {
        const result = await matrix.run(fault);
        expect(result.problems).toEqual([]);
        expect(result.asExpected).toBe(true);
        expect(result.clearError).toBe(true);
        expect(result.duplicates).toBe(0);
        expect(result.converged).toBe(true);
        expect(result.overrunSeconds).toBeLessThanOrEqual(MAX_OVERRUN_SECONDS);
      });
    }
  },
);

if (missing) console.warn(`\nSKIPPED: real Pulumi engine fault suite: ${missing}\n`);
