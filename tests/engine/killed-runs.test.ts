// A `pulumi up` killed with SIGKILL inside each provider's create and update, under the real engine, each
// run in a fresh process with the program loaded through ts-node (lifecycle.ts); then the README's recovery
// (pulumi cancel, pulumi refresh --clear-pending-creates, pulumi up). Real PostgreSQL; the Cloudflare API and
// registry are stand-ins behind fault proxies, which hold a request (after the stand-in carried it out, for
// writes) so the kill lands while the provider waits; the Worker runs in workerd with a container double.
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { FaultProxy } from "../support/fault-proxy";
import { engineMissing } from "./harness";
import { alive, Checkout, LifecycleRunner } from "./lifecycle";
import { type EngineInputs, gitShaOf, imageReference, WORKER } from "./program";
import { EngineScenario } from "./scenario";

const setup = inject("postgres");
const database = "database" in setup ? setup.database : undefined;
const missing = engineMissing() ?? (database ? undefined : "no PostgreSQL server");

/** Where a run is held until the test has killed it. */
interface Pause {
  reached: Promise<unknown>;
  release(): Promise<void>;
}

/** Holds the first matching request; with `afterForwarding`, once the stand-in has carried it out. */
function hold(proxy: FaultProxy, method: string, path: RegExp, afterForwarding = false): Pause {
  const seen = proxy.injected.length;
  proxy.inject({ method, path, fault: { kind: "hang" }, times: 1, afterForwarding });
  return {
    reached: (async () => {
      while (proxy.injected.length === seen) await sleep(25);
    })(),
    release: () => proxy.restore(),
  };
}

/** Holds the generation's INSERT behind a table lock, taken by the suite's own connection. */
function lockDeployments(adminUrl: string): Pause {
  const client = new Client({ connectionString: adminUrl });
  const locked = (async () => {
    await client.connect();
    await client.query("begin; lock table core.deployments in access exclusive mode");
  })();
  return {
    reached: (async () => {
      await locked;
      for (;;) {
        const waiting = await client.query(
          "select 1 from pg_locks where not granted and relation = 'core.deployments'::regclass",
        );
        if (waiting.rowCount) return;
        await sleep(25);
      }
    })(),
    release: async () => {
      await client.query("rollback");
      await client.end();
    },
  };
}

const UPLOAD = /\/workers\/scripts\/[^/]+$/;
const CASES: { what: string; phase: "create" | "update"; pause: (scenario: EngineScenario) => Pause }[] = [
  { what: "DeploymentGeneration", phase: "create", pause: (s) => lockDeployments(s.database.adminUrl) },
  { what: "WorkerScript", phase: "create", pause: (s) => hold(s.faults.cloudflare, "PUT", UPLOAD, true) },
  {
    what: "ContainerApplication",
    phase: "create",
    pause: (s) => hold(s.faults.cloudflare, "POST", /\/containers\/applications$/, true),
  },
  { what: "DeployVerification", phase: "create", pause: (s) => hold(s.faults.health, "GET", /\/health$/) },
  { what: "ImageRetention", phase: "create", pause: (s) => hold(s.faults.registry, "GET", /_catalog/) },
  { what: "DeploymentGeneration", phase: "update", pause: (s) => lockDeployments(s.database.adminUrl) },
  { what: "WorkerScript", phase: "update", pause: (s) => hold(s.faults.cloudflare, "PUT", UPLOAD, true) },
  {
    what: "ContainerApplication",
    phase: "update",
    pause: (s) => hold(s.faults.cloudflare, "POST", /\/rollouts$/, true),
  },
  { what: "DeployVerification", phase: "update", pause: (s) => hold(s.faults.health, "GET", /\/health$/) },
  { what: "ImageRetention", phase: "update", pause: (s) => hold(s.faults.registry, "GET", /_catalog/) },
];

describe.skipIf(missing !== undefined)(
  "killed runs recover by the README's runbook (real engine, ts-node, real PostgreSQL, Cloudflare API and registry stand-ins, workerd)",
  () => {
    let scenario: EngineScenario;
    let checkout: Checkout;
    let runner: LifecycleRunner;
    let deployed: EngineInputs;

    beforeAll(async () => {
      scenario = await EngineScenario.start(database);
      checkout = new Checkout();
      runner = new LifecycleRunner(scenario, checkout);
      deployed = scenario.inputs();
    });
    afterAll(async () => {
      await scenario?.close();
      checkout?.dispose();
    });

    /** The other image of the test registry's first two: every update case deploys a new one. */
    const nextImage = (inputs: EngineInputs): EngineInputs => {
      const image = imageReference(inputs.image === imageReference("1") ? "2" : "1");
      return { ...inputs, image, gitSha: gitShaOf(image) };
    };

    it.each(CASES)(
      "SIGKILL inside $what $phase: no provider host outlives the CLI, and cancel, refresh --clear-pending-creates and up converge",
      async ({ phase, pause }) => {
        if (phase === "create") {
          const destroyed = await runner.run("destroy", deployed);
          expect(destroyed.error).toBeUndefined();
        } else {
          const up = await runner.run("up", deployed);
          expect(up.error).toBeUndefined();
        }
        const target = phase === "create" ? deployed : nextImage(deployed);
        const rows = await scenario.generations("lifecycle");
        const held = pause(scenario);
        const killed = await runner.run("up", target, { killWhen: held.reached });
        expect(killed.error).toMatch(/SIGKILL/);
        // The hosts see their engine gone and exit (packages/provider-support/engine-watch.js).
        for (let waited = 0; killed.providerHosts.some(alive) && waited < 5000; waited += 100)
          await sleep(100);
        expect(killed.providerHosts.filter(alive)).toEqual([]);
        await held.release();

        const locked = await runner.run("up", target);
        expect(locked.error).toMatch(/the stack is currently locked.*`pulumi cancel`/s);
        for (const step of ["cancel", "refresh-clear-pending"] as const)
          expect((await runner.run(step, target)).error).toBeUndefined();
        const recovered = await runner.run("up", target);
        expect(recovered.error).toBeUndefined();
        expect(recovered.outputs?.servingGeneration).toBe(recovered.outputs?.generation);
        expect([...scenario.fake.scripts.keys()]).toEqual([WORKER]);
        expect(scenario.fake.applications.size).toBe(1);
        expect([...scenario.fake.applications.values()][0].configuration).toMatchObject({
          image: target.image,
        });
        // At most one row the killed run allocated and never recorded, besides the recovery's own.
        expect(await scenario.generations("lifecycle")).toBeLessThanOrEqual(rows + 2);
        expect((await runner.run("up", target)).changes).toEqual({ same: 6 });
        deployed = target;
      },
    );
  },
);

if (missing) console.warn(`\nSKIPPED: killed-runs suite: ${missing}\n`);
