// An operator's second month, under the real Pulumi engine (CLI v3.274.1): every operation in a fresh
// process, the program loaded through ts-node as `pulumi up` loads it (ts-node-host.js), from a checkout
// the tests edit. Real PostgreSQL; the Cloudflare API and registry are stand-ins; the Worker runs in workerd
// with a container double.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Checkout } from "../support/checkout";
import { LifecycleRunner, PROVIDER_FILES, type Run } from "./lifecycle";
import { type EngineInputs, gitShaOf, imageReference, WORKER } from "./program";
import { type EngineScenario, SECRET_VALUES } from "./scenario";
import { database, missing } from "./suite";

describe.skipIf(missing !== undefined)(
  "day 2 under the real engine, ts-node, a fresh process per run (real PostgreSQL, Cloudflare API and registry stand-ins, workerd)",
  () => {
    let scenario: EngineScenario;
    let runner: LifecycleRunner;
    let checkout: Checkout;
    let base: EngineInputs;

    /** A preview, then the up, each in its own process: the up must do exactly what the preview showed. */
    async function previewThenUp(inputs: EngineInputs): Promise<{ preview: Run; up: Run }> {
      const preview = await runner.run("preview", inputs);
      const up = await runner.run("up", inputs);
      expect(preview.error ?? up.error).toBeUndefined();
      expect(preview.steps).toEqual(up.steps);
      expect(preview.changes).toEqual(up.changes);
      base = inputs;
      return { preview, up };
    }
    const application = () => [...scenario.fake.applications.values()];

    beforeAll(async () => {
      runner = await LifecycleRunner.start(database);
      ({ scenario, checkout } = runner);
      base = scenario.inputs();
      const first = await runner.run("up", base);
      expect(first.error).toBeUndefined();
      expect(first.changes).toEqual({ create: 6 });
    });
    afterAll(async () => {
      await runner?.close();
    });

    it("an edit of every provider file (a comment) previews and ups as 0 changes: no Cloudflare write, no generation, no rollout", async () => {
      for (const file of PROVIDER_FILES) checkout.editProvider(file);
      const before = {
        writes: scenario.writes(),
        rows: await scenario.generations("lifecycle"),
        rollouts: scenario.fake.rollouts.length,
      };
      const preview = await runner.run("preview", base);
      const up = await runner.run("up", base);
      expect(preview.error ?? up.error).toBeUndefined();
      expect(preview.changes).toEqual({ same: 6 });
      expect(up.changes).toEqual({ same: 6 });
      expect(scenario.writes()).toBe(before.writes);
      expect(await scenario.generations("lifecycle")).toBe(before.rows);
      expect(scenario.fake.rollouts).toHaveLength(before.rollouts);
      // The edit reached the engine: every resource of ours now stores the edited provider.
      const ours = runner.state().filter((resource) => resource.type.startsWith("pulumi-nodejs:dynamic/"));
      expect(ours).toHaveLength(5);
      for (const resource of ours)
        expect(String(resource.inputs?.__provider)).toContain("edited by an operator");
    });

    it("no change: the preview and the up are 0 changes, and nothing is written", async () => {
      const writes = scenario.writes();
      const { up } = await previewThenUp(base);
      expect(up.changes).toEqual({ same: 6 });
      expect(scenario.writes()).toBe(writes);
    });

    it("a rotated secret: the preview shows exactly the up's steps (new generation, Worker upload, verification), no replace of the application", async () => {
      const { up } = await previewThenUp({
        ...base,
        secrets: { ...SECRET_VALUES, STRIPE_SECRET_KEY: "sk_engine_rotated_day2" },
      });
      expect(up.changes).toEqual({ same: 3, replace: 1, update: 2 });
      expect(up.steps?.filter((step) => step.startsWith("ContainerApplication"))).toEqual([
        "ContainerApplication::app-container same",
      ]);
    });

    it("a new image: the preview shows exactly the up's steps, and the application rolls out once", async () => {
      const rollouts = scenario.fake.rollouts.length;
      const image = imageReference("2");
      const { up } = await previewThenUp({ ...base, image, gitSha: gitShaOf(image) });
      expect(up.changes).toEqual({ same: 1, replace: 1, update: 4 });
      expect(scenario.fake.rollouts).toHaveLength(rollouts + 1);
    });

    it("a new instance type: the preview shows exactly the up's steps; the rollout carries it", async () => {
      const { up } = await previewThenUp({ ...base, instanceType: "basic" });
      expect(up.steps).toContain("ContainerApplication::app-container update");
      expect(application()[0].configuration).toMatchObject({ instance_type: "basic" });
    });

    it("refresh reports drift made outside the program, and the next up puts the declared state back", async () => {
      const [live] = application();
      Object.assign(live, {
        max_instances: 7,
        configuration: { ...live.configuration, instance_type: "lite" },
      });
      const script = scenario.fake.scripts.get(WORKER);
      script?.bindings?.push({ type: "plain_text", name: "ADDED_IN_DASHBOARD", text: "x" });
      const refresh = await runner.run("refresh", base);
      expect(refresh.error).toBeUndefined();
      expect(refresh.steps).toEqual(
        expect.arrayContaining([
          "ContainerApplication::app-container update",
          "WorkerScript::app-worker-script update",
        ]),
      );
      const { up } = await previewThenUp(base);
      expect(up.steps).toEqual(
        expect.arrayContaining([
          "ContainerApplication::app-container update",
          "WorkerScript::app-worker-script update",
        ]),
      );
      expect(application()[0]).toMatchObject({
        max_instances: base.maxInstances,
        configuration: { instance_type: base.instanceType },
      });
      expect(scenario.fake.scripts.get(WORKER)?.bindings?.map((binding) => binding.name)).not.toContain(
        "ADDED_IN_DASHBOARD",
      );
    });

    it("an application deleted outside the program: refresh drops it, the next up creates it again and verifies", async () => {
      scenario.fake.applications.clear();
      const refresh = await runner.run("refresh", base);
      expect(refresh.steps).toContain("ContainerApplication::app-container delete");
      const { up } = await previewThenUp(base);
      expect(up.steps).toContain("ContainerApplication::app-container create");
      expect(application()).toHaveLength(1);
      expect(up.outputs?.applicationId).toBe(application()[0].id);
    });

    it("an application deleted outside the program and not refreshed: the next change creates it again, never reports success without it", async () => {
      scenario.fake.applications.clear();
      const image = imageReference("3");
      const up = await runner.run("up", { ...base, image, gitSha: gitShaOf(image) });
      expect(up.error).toBeUndefined();
      base = { ...base, image, gitSha: gitShaOf(image) };
      expect(application()).toHaveLength(1);
      expect(application()[0].configuration).toMatchObject({ image });
      expect(up.outputs?.servingGeneration).toBe(up.outputs?.generation);
    });

    it("a Worker deleted outside the program: refresh drops it, the next up uploads it again with its migration and binds a new application", async () => {
      scenario.fake.scripts.delete(WORKER);
      scenario.fake.namespaces.splice(0, scenario.fake.namespaces.length);
      const refresh = await runner.run("refresh", base);
      expect(refresh.steps).toContain("WorkerScript::app-worker-script delete");
      const up = await runner.run("up", base);
      expect(up.error).toBeUndefined();
      expect(scenario.fake.scripts.get(WORKER)?.migration_tag).toBe("v1");
      expect(application()).toHaveLength(1);
      expect(application()[0].durable_objects.namespace_id).toBe(scenario.fake.namespaces[0].id);
      expect(up.outputs?.servingGeneration).toBe(up.outputs?.generation);
    });

    it("a rename in code without an alias deletes nothing live: the Worker and the application stay, held by the new names", async () => {
      const before = { applicationId: application()[0].id, scripts: [...scenario.fake.scripts.keys()] };
      const renamed = { ...base, resourceNames: { script: "api-worker-script", container: "api-container" } };
      const { up } = await previewThenUp(renamed);
      expect(up.steps).toEqual(
        expect.arrayContaining([
          "WorkerScript::app-worker-script delete",
          "ContainerApplication::app-container delete",
        ]),
      );
      expect([...scenario.fake.scripts.keys()]).toEqual(before.scripts);
      expect(application().map((each) => each.id)).toEqual([before.applicationId]);
      const again = await runner.run("up", renamed);
      expect(again.changes).toEqual({ same: 6 });
    });

    it("a Worker rename: the new Worker is up before the old one goes, with one application bound to its namespace", async () => {
      const renamed = { ...base, workerName: `${WORKER}-renamed` };
      const { up } = await previewThenUp(renamed);
      expect(up.steps).toEqual(
        expect.arrayContaining([
          "WorkerScript::api-worker-script create-replacement",
          "WorkerScript::api-worker-script delete-replaced",
        ]),
      );
      expect([...scenario.fake.scripts.keys()]).toEqual([`${WORKER}-renamed`]);
      expect(application()).toHaveLength(1);
      expect(application()[0].durable_objects.namespace_id).toBe(
        scenario.fake.namespaces.find((each) => each.script === `${WORKER}-renamed`)?.id,
      );
    });
  },
);

if (missing) console.warn(`\nSKIPPED: day-2 lifecycle suite: ${missing}\n`);
