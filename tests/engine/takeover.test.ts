// Taking over what `wrangler deploy` left (ADR-049 D1: how Spectral deploys today), under the real engine,
// the program loaded through ts-node in a fresh process (lifecycle.ts). The Cloudflare API and registry are
// stand-ins, seeded through their own API as wrangler calls it; real PostgreSQL; the Worker runs in workerd.
import Cloudflare from "cloudflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_CLASS } from "../../components/container-worker";
import { bundleWorker, WORKER_MODULE } from "../../lib/worker/bundle";
import { REPO_ROOT } from "../support/alpha";
import { FAKE_TOKEN } from "../support/fake-cloudflare";
import { LifecycleRunner } from "./lifecycle";
import { ACCOUNT, imageReference, WORKER } from "./program";
import type { EngineScenario } from "./scenario";
import { database, missing } from "./suite";

/** What `wrangler deploy` of a Worker with one container class leaves: the script, its namespace, an application. */
async function wranglerDeploy(scenario: EngineScenario): Promise<string> {
  const client = new Cloudflare({ apiToken: FAKE_TOKEN, baseURL: scenario.fake.baseUrl, maxRetries: 0 });
  const form = new FormData();
  // The same Worker source, bundled as wrangler bundles it; its vars as wrangler.toml would set them.
  const metadata = {
    main_module: WORKER_MODULE,
    compatibility_date: "2026-11-01",
    bindings: [
      { type: "durable_object_namespace", name: "SPECTRAL_APP", class_name: CONTAINER_CLASS },
      { type: "plain_text", name: "SPECTRAL_GENERATION", text: "0" },
    ],
    containers: [{ class_name: CONTAINER_CLASS }],
    migrations: { new_tag: "v1", steps: [{ new_sqlite_classes: [CONTAINER_CLASS] }] },
  };
  form.set("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
  const { code } = bundleWorker(REPO_ROOT);
  form.set(WORKER_MODULE, new Blob([code], { type: "application/javascript+module" }), WORKER_MODULE);
  await client.put(`/accounts/${ACCOUNT}/workers/scripts/${WORKER}`, { body: form });
  const [namespace] = scenario.fake.namespaces;
  // wrangler names the application <worker>-<class, lower case>.
  const created = (await client.post(`/accounts/${ACCOUNT}/containers/applications`, {
    body: {
      name: `${WORKER}-${CONTAINER_CLASS.toLowerCase()}`,
      scheduling_policy: "default",
      instances: 0,
      max_instances: 1,
      configuration: { image: imageReference("1"), instance_type: "lite" },
      durable_objects: { namespace_id: namespace.id },
    },
  })) as { result: { id: string } };
  return created.result.id;
}

describe.skipIf(missing !== undefined)(
  "taking over a wrangler deployment (real engine, ts-node, real PostgreSQL, Cloudflare API and registry stand-ins, workerd)",
  () => {
    let scenario: EngineScenario;
    let runner: LifecycleRunner;
    let wranglerApplication: string;

    beforeAll(async () => {
      runner = await LifecycleRunner.start(database);
      ({ scenario } = runner);
      wranglerApplication = await wranglerDeploy(scenario);
      scenario.fake.requests.length = 0;
    });
    afterAll(async () => {
      await runner?.close();
    });

    it("the first up adopts the Worker and the application in place: nothing deleted, no second application, no migration sent again", async () => {
      const namespace = scenario.fake.namespaces[0].id;
      const up = await runner.run("up", scenario.inputs());
      expect(up.error).toBeUndefined();
      expect(up.changes).toEqual({ create: 6 });
      expect(scenario.fake.requests.filter((request) => request.method === "DELETE")).toEqual([]);
      expect([...scenario.fake.applications.keys()]).toEqual([wranglerApplication]);
      expect(scenario.fake.namespaces.map((each) => each.id)).toEqual([namespace]);
      expect(scenario.uploads().map((upload) => upload.metadata.migrations)).toEqual([undefined]);
      // Renamed to ours, resized, and rolled to the declared instance type.
      expect(scenario.fake.applications.get(wranglerApplication)).toMatchObject({
        name: "spectral-engine-app",
        max_instances: 2,
        configuration: { instance_type: "standard-1" },
      });
      const application = runner.state().find((resource) => resource.type.endsWith(":ContainerApplication"));
      expect(application?.outputs).toMatchObject({ adopted: true, applicationId: wranglerApplication });
      expect(up.outputs?.servingGeneration).toBe(up.outputs?.generation);
    });

    it("the next up is 0 changes", async () => {
      expect((await runner.run("up", scenario.inputs())).changes).toEqual({ same: 6 });
    });
  },
);

if (missing) console.warn(`\nSKIPPED: wrangler takeover suite: ${missing}\n`);
