// A stack deployed by the release before this one (providers of commit 60d7faa: no `read`, diffs over every
// key), then upgraded: pulumi/pulumi#16826 means refresh and delete run the provider code stored in the
// state, so the first up after the upgrade must store the new code without touching Cloudflare. Real engine,
// each run a fresh ts-node process (lifecycle.ts); real PostgreSQL; Cloudflare API and registry stand-ins;
// the Worker in workerd.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Checkout } from "../support/checkout";
import { LifecycleRunner } from "./lifecycle";
import type { EngineScenario } from "./scenario";
import { database, missing } from "./suite";

/** The last commit whose WorkerScript and ContainerApplication providers had no `read`. */
const PREVIOUS_RELEASE = "60d7faa";
const UPGRADED = ["components/worker-script-provider.ts", "components/container-application-provider.ts"];

describe.skipIf(missing !== undefined)(
  "upgrading a stack deployed by the previous release (real engine, ts-node, real PostgreSQL, Cloudflare API and registry stand-ins, workerd)",
  () => {
    let scenario: EngineScenario;
    let runner: LifecycleRunner;
    let checkout: Checkout;

    beforeAll(async () => {
      runner = await LifecycleRunner.start(database);
      ({ scenario, checkout } = runner);
      for (const file of UPGRADED) checkout.checkoutFile(file, PREVIOUS_RELEASE);
      const old = await runner.run("up", scenario.inputs());
      expect(old.error).toBeUndefined();
      for (const file of UPGRADED) checkout.restoreFile(file);
    });
    afterAll(async () => {
      await runner?.close();
    });

    it("the first up after the upgrade rewrites the two resources' state, as its preview says, and writes to Cloudflare only the PATCH that gives the application top-level observability and wrangler's placement tiers", async () => {
      const writes = scenario.writes();
      const preview = await runner.run("preview", scenario.inputs());
      const up = await runner.run("up", scenario.inputs());
      expect(preview.error ?? up.error).toBeUndefined();
      expect(preview.steps).toEqual(up.steps);
      expect(up.changes).toEqual({ same: 4, update: 2 });
      expect(up.steps).toEqual(
        expect.arrayContaining([
          "ContainerApplication::app-container update",
          "WorkerScript::app-worker-script update",
        ]),
      );
      expect(scenario.writes()).toBe(writes + 1);
      expect(scenario.fake.requests.filter((request) => request.method !== "GET").at(-1)).toMatchObject({
        method: "PATCH",
        body: { observability: { logs: { enabled: true } }, constraints: { tiers: [1, 2] } },
      });
    });

    it("then refresh runs the new read: drift made in the dashboard shows, and the next up undoes it", async () => {
      const [application] = scenario.fake.applications.values();
      application.max_instances = 9;
      const refresh = await runner.run("refresh", scenario.inputs());
      expect(refresh.steps).toContain("ContainerApplication::app-container update");
      const up = await runner.run("up", scenario.inputs());
      expect(up.error).toBeUndefined();
      expect(application.max_instances).toBe(scenario.inputs().maxInstances);
    });
  },
);

if (missing) console.warn(`\nSKIPPED: upgrade suite: ${missing}\n`);
