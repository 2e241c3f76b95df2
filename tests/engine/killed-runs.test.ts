// A `pulumi up` killed with SIGKILL inside each provider's create and update (kill-points.ts), under the
// real engine, each run in a fresh process with the program loaded through ts-node (lifecycle.ts); then the
// README's recovery (pulumi cancel, pulumi refresh --clear-pending-creates, pulumi up). Real PostgreSQL; the
// Cloudflare API and registry are stand-ins behind fault proxies; the Worker runs in workerd with a
// container double.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KILL_POINTS, killAndRecover } from "./kill-points";
import { LifecycleRunner } from "./lifecycle";
import { type EngineInputs, WORKER } from "./program";
import type { EngineScenario } from "./scenario";
import { database, missing } from "./suite";

describe.skipIf(missing !== undefined)(
  "killed runs recover by the README's runbook (real engine, ts-node, real PostgreSQL, Cloudflare API and registry stand-ins, workerd)",
  () => {
    let scenario: EngineScenario;
    let runner: LifecycleRunner;
    let deployed: EngineInputs;

    beforeAll(async () => {
      runner = await LifecycleRunner.start(database);
      ({ scenario } = runner);
      deployed = scenario.inputs();
    });
    afterAll(async () => {
      await runner?.close();
    });

    it.each(KILL_POINTS)(
      "SIGKILL inside $what $phase: no provider host outlives the CLI, and cancel, refresh --clear-pending-creates and up converge",
      async (point) => {
        const outcome = await killAndRecover(runner, scenario, point, deployed);
        expect(outcome.killedError).toMatch(/SIGKILL/);
        expect(outcome.hostsLeft).toEqual([]);
        expect(outcome.lockedError).toMatch(/the stack is currently locked.*`pulumi cancel`/s);
        expect(outcome.recoveryErrors).toEqual([]);
        expect(outcome.outputs?.servingGeneration).toBe(outcome.outputs?.generation);
        expect(outcome.workers).toEqual([WORKER]);
        expect(outcome.applications).toEqual([{ image: outcome.target.image }]);
        // An application this program made (found again after the kill) is never recorded as adopted.
        expect(outcome.adopted).toBe(false);
        // At most one row the killed run allocated and never recorded, besides the recovery's own.
        expect(outcome.newRows).toBeLessThanOrEqual(2);
        expect(outcome.afterwards).toEqual({ same: 6 });
        deployed = outcome.target;
      },
    );
  },
);

if (missing) console.warn(`\nSKIPPED: killed-runs suite: ${missing}\n`);
