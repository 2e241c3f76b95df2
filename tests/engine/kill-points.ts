/**
 * Where the killed-runs suite and `pnpm bench:lifecycle` SIGKILL a `pulumi up`: inside each provider's create
 * and update, while the provider waits on a request a fault proxy holds (after the stand-in carried it out,
 * for writes) or on a table lock. Then the README's recovery runs (pulumi cancel, pulumi refresh
 * --clear-pending-creates, pulumi up), and what it left is measured.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Client } from "pg";
import type { FaultProxy } from "../support/fault-proxy";
import { alive, type LifecycleRunner } from "./lifecycle";
import { type EngineInputs, gitShaOf, imageReference, WORKER } from "./program";
import type { EngineScenario } from "./scenario";

/** Where a run is held until it has been killed. */
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

/** Holds the generation's INSERT behind a table lock, taken on a connection of its own. */
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

export interface KillPoint {
  what: string;
  phase: "create" | "update";
  pause: (scenario: EngineScenario) => Pause;
}

const UPLOAD = /\/workers\/scripts\/[^/]+$/;
const generation: KillPoint["pause"] = (scenario) => lockDeployments(scenario.database.adminUrl);
const upload: KillPoint["pause"] = (scenario) => hold(scenario.faults.cloudflare, "PUT", UPLOAD, true);
const health: KillPoint["pause"] = (scenario) => hold(scenario.faults.health, "GET", /\/health$/);
const catalog: KillPoint["pause"] = (scenario) => hold(scenario.faults.registry, "GET", /_catalog/);

export const KILL_POINTS: KillPoint[] = [
  { what: "DeploymentGeneration", phase: "create", pause: generation },
  { what: "WorkerScript", phase: "create", pause: upload },
  {
    what: "ContainerApplication",
    phase: "create",
    pause: (scenario) => hold(scenario.faults.cloudflare, "POST", /\/containers\/applications$/, true),
  },
  { what: "DeployVerification", phase: "create", pause: health },
  { what: "ImageRetention", phase: "create", pause: catalog },
  { what: "DeploymentGeneration", phase: "update", pause: generation },
  { what: "WorkerScript", phase: "update", pause: upload },
  {
    what: "ContainerApplication",
    phase: "update",
    pause: (scenario) => hold(scenario.faults.cloudflare, "POST", /\/rollouts$/, true),
  },
  { what: "DeployVerification", phase: "update", pause: health },
  { what: "ImageRetention", phase: "update", pause: catalog },
];

/** What a killed run and its recovery left. */
export interface KillOutcome {
  /** What the killed up and the recovery deployed: `deployed` for a create, the next image for an update. */
  target: EngineInputs;
  killedError?: string;
  /** Provider hosts of the killed CLI still running 5 s after the kill. */
  hostsLeft: number[];
  /** What the first up after the kill said (the lock the README tells to cancel). */
  lockedError?: string;
  recoveryErrors: string[];
  /** The recovered up's outputs. */
  outputs?: Record<string, unknown>;
  workers: string[];
  applications: { image: unknown }[];
  adopted: unknown;
  /** Generation rows from before the killed run to after the recovery. */
  newRows: number;
  /** The up after the recovery's changes. */
  afterwards?: Record<string, number>;
}

/** The other image of the test registry's first two: every update case deploys a new one. */
export function nextImage(inputs: EngineInputs): EngineInputs {
  const image = imageReference(inputs.image === imageReference("1") ? "2" : "1");
  return { ...inputs, image, gitSha: gitShaOf(image) };
}

/** From `deployed` (destroyed first for a create), kills an up at `point`, then recovers as the README says. */
export async function killAndRecover(
  runner: LifecycleRunner,
  scenario: EngineScenario,
  point: KillPoint,
  deployed: EngineInputs,
): Promise<KillOutcome> {
  const before = await runner.run(point.phase === "create" ? "destroy" : "up", deployed);
  if (before.error) throw new Error(`setting up ${point.what} ${point.phase}: ${before.error}`);
  const target = point.phase === "create" ? deployed : nextImage(deployed);
  const rows = await scenario.generations("lifecycle");
  const held = point.pause(scenario);
  const killed = await runner.run("up", target, { killWhen: held.reached });
  // The hosts see their engine gone and exit (packages/provider-support/engine-watch.js).
  for (let waited = 0; killed.providerHosts.some(alive) && waited < 5000; waited += 100) await sleep(100);
  const hostsLeft = killed.providerHosts.filter(alive);
  await held.release();
  const locked = await runner.run("up", target);
  const recoveryErrors: string[] = [];
  for (const step of ["cancel", "refresh-clear-pending"] as const) {
    const { error } = await runner.run(step, target);
    if (error) recoveryErrors.push(`${step}: ${error}`);
  }
  const recovered = await runner.run("up", target);
  if (recovered.error) recoveryErrors.push(`up: ${recovered.error}`);
  const application = runner.state().find((resource) => resource.type.endsWith(":ContainerApplication"));
  const afterwards = await runner.run("up", target);
  return {
    target,
    killedError: killed.error,
    hostsLeft,
    lockedError: locked.error,
    recoveryErrors,
    outputs: recovered.outputs,
    workers: [...scenario.fake.scripts.keys()],
    applications: [...scenario.fake.applications.values()].map((each) => ({
      image: each.configuration.image,
    })),
    adopted: application?.outputs?.adopted,
    newRows: (await scenario.generations("lifecycle")) - rows,
    afterwards: afterwards.changes,
  };
}

/** Whether an outcome is the converged stack the README promises (WORKER, one application, one new row at most beyond the recovery's). */
export function recoveredCleanly(outcome: KillOutcome): boolean {
  return (
    outcome.hostsLeft.length === 0 &&
    outcome.recoveryErrors.length === 0 &&
    outcome.outputs?.servingGeneration === outcome.outputs?.generation &&
    outcome.workers.join() === WORKER &&
    outcome.applications.length === 1 &&
    outcome.applications[0].image === outcome.target.image &&
    outcome.adopted === false &&
    outcome.newRows <= 2 &&
    JSON.stringify(outcome.afterwards) === JSON.stringify({ same: 6 })
  );
}
