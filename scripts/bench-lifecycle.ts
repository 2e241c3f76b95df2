/**
 * `pnpm bench:lifecycle`: an operator's second month, whole, under the real engine, each run in a fresh
 * process with the program loaded through ts-node as `pulumi up` loads it (tests/engine/lifecycle.ts),
 * against a throwaway PostgreSQL cluster, the Cloudflare API and registry stand-ins, and the Worker in workerd.
 *
 *   planned     no change, an edit of every provider file, a rotation, a new image, a new instance type, a
 *               Worker rename: the preview's steps must be the up's; no change and the edit write nothing;
 *   drift       the application's settings, a Worker binding, the application deleted, the Worker deleted:
 *               refresh must report each (update or delete) and the next up must put it back;
 *   rename      the Worker script and application resources renamed in code without an alias: both live
 *               objects must survive;
 *   killed      SIGKILL inside each provider's create and update, then the README's recovery
 *               (tests/engine/kill-points.ts).
 *
 * Prints `lifecycle: scenarios=N preview_mismatches=0 unexpected_writes=0 drift_missed=0 destroyed_by_rename=0
 * killed_runs_recovered=K/K noop_up_s=… first_up_s=… ratio=…`; the goal is every count 0 and K/K. The ratio
 * is a no-change up against the first up, both measured in this run.
 */
import { engineMissing } from "../tests/engine/harness";
import { KILL_POINTS, killAndRecover, nextImage, recoveredCleanly } from "../tests/engine/kill-points";
import { LifecycleRunner, PROVIDER_FILES } from "../tests/engine/lifecycle";
import { type EngineInputs, WORKER } from "../tests/engine/program";
import { type EngineScenario, SECRET_VALUES } from "../tests/engine/scenario";
import { benchSize } from "./bench-support";

/** Every kill point, or the first in the short mode. */
const KILLED = KILL_POINTS.slice(0, benchSize(KILL_POINTS.length, 1));
/** Every scenario; the short mode runs one of each kind (planned, drift, rename, killed). */
const WHOLE = benchSize(1, 0) === 1;

const seconds = (started: bigint) => Number(process.hrtime.bigint() - started) / 1e9;

/** A runner on its own stand-ins and checkout (a throwaway cluster); everything is closed after `use`. */
async function withRunner<T>(
  use: (runner: LifecycleRunner, scenario: EngineScenario) => Promise<T>,
): Promise<T> {
  const runner = await LifecycleRunner.start();
  try {
    return await use(runner, runner.scenario);
  } finally {
    await runner.close();
  }
}

async function main(): Promise<void> {
  const missing = engineMissing();
  if (missing) throw new Error(missing);
  const counts = { scenarios: 0, mismatches: 0, unexpectedWrites: 0, driftMissed: 0, destroyedByRename: 0 };
  const problem = (what: string) => console.error(`bench:lifecycle: ${what}`);
  const timing = { first: 0, noop: 0 };

  await withRunner(async (runner, scenario) => {
    let base = scenario.inputs();
    const first = process.hrtime.bigint();
    const created = await runner.run("up", base);
    timing.first = seconds(first);
    if (created.error) throw new Error(`the first up failed: ${created.error}`);

    /** A preview, then the up: their steps must match; `quiet` ones must write nothing to Cloudflare. */
    const planned = async (name: string, inputs: EngineInputs, quiet = false) => {
      counts.scenarios++;
      const writes = scenario.writes();
      const preview = await runner.run("preview", inputs);
      const started = process.hrtime.bigint();
      const up = await runner.run("up", inputs);
      if (name === "no change") timing.noop = seconds(started);
      if (preview.error || up.error) problem(`${name}: ${preview.error ?? up.error}`);
      if (JSON.stringify(preview.steps) !== JSON.stringify(up.steps)) {
        counts.mismatches++;
        problem(`${name}: preview ${preview.steps} but up ${up.steps}`);
      }
      if (quiet && scenario.writes() !== writes) counts.unexpectedWrites += scenario.writes() - writes;
      base = inputs;
    };
    await planned("no change", base, true);
    if (WHOLE) {
      for (const file of PROVIDER_FILES) runner.checkout.editProvider(file);
      await planned("provider edit", base, true);
      await planned("rotation", {
        ...base,
        secrets: { ...SECRET_VALUES, STRIPE_SECRET_KEY: "sk_bench_rotated" },
      });
      await planned("new image", nextImage(base));
      await planned("instance type", { ...base, instanceType: "basic" });
    }

    /** Drift made outside the program: refresh must report it, and the next up must put it back. */
    const drift = async (name: string, expected: string, make: () => void, restored: () => boolean) => {
      counts.scenarios++;
      make();
      const refresh = await runner.run("refresh", base);
      const up = await runner.run("up", base);
      if (!refresh.steps?.includes(expected) || up.error || !restored()) {
        counts.driftMissed++;
        problem(`${name}: refresh ${refresh.steps}, up ${up.error ?? "ok"}, restored ${restored()}`);
      }
    };
    const application = () => [...scenario.fake.applications.values()][0];
    await drift(
      "application settings",
      "ContainerApplication::app-container update",
      () => Object.assign(application(), { max_instances: 9 }),
      () => application()?.max_instances === base.maxInstances,
    );
    if (WHOLE) {
      await drift(
        "Worker binding",
        "WorkerScript::app-worker-script update",
        () =>
          scenario.fake.scripts.get(WORKER)?.bindings?.push({ type: "plain_text", name: "EXTRA", text: "x" }),
        () => !scenario.fake.scripts.get(WORKER)?.bindings?.some((binding) => binding.name === "EXTRA"),
      );
      await drift(
        "application deleted",
        "ContainerApplication::app-container delete",
        () => scenario.fake.applications.clear(),
        () => scenario.fake.applications.size === 1,
      );
      await drift(
        "Worker deleted",
        "WorkerScript::app-worker-script delete",
        () => {
          scenario.fake.scripts.delete(WORKER);
          scenario.fake.namespaces.length = 0;
        },
        () => scenario.fake.scripts.has(WORKER) && scenario.fake.applications.size === 1,
      );
    }

    const live = { application: application().id, workers: scenario.fake.scripts.size };
    await planned("rename without alias", {
      ...base,
      resourceNames: { script: "api-worker-script", container: "api-container" },
    });
    counts.destroyedByRename +=
      Number(!scenario.fake.applications.has(live.application)) + (live.workers - scenario.fake.scripts.size);
    if (WHOLE) await planned("Worker rename", { ...base, workerName: `${WORKER}-renamed` });
  });

  const recovered = await withRunner(async (runner, scenario) => {
    let deployed: EngineInputs = scenario.inputs();
    let clean = 0;
    for (const point of KILLED) {
      counts.scenarios++;
      const outcome = await killAndRecover(runner, scenario, point, deployed);
      if (recoveredCleanly(outcome)) clean++;
      else problem(`killed in ${point.what} ${point.phase}: ${JSON.stringify(outcome)}`);
      console.error(
        `bench:lifecycle: killed in ${point.what} ${point.phase}: ${outcome.newRows} new generation rows`,
      );
      deployed = outcome.target;
    }
    return clean;
  });

  console.log(
    `lifecycle: scenarios=${counts.scenarios} preview_mismatches=${counts.mismatches} unexpected_writes=${counts.unexpectedWrites} drift_missed=${counts.driftMissed} destroyed_by_rename=${counts.destroyedByRename} killed_runs_recovered=${recovered}/${KILLED.length} noop_up_s=${timing.noop.toFixed(2)} first_up_s=${timing.first.toFixed(2)} ratio=${(timing.noop / timing.first).toFixed(2)}`,
  );
}

main().catch((error: unknown) => {
  console.error(`bench:lifecycle: ${(error as Error).message}`);
  process.exit(1);
});
