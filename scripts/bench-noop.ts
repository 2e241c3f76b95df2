/**
 * `pnpm bench:noop`: what a second `pulumi up` with nothing changed does. Goal: all zeros.
 *   - The engine program (tests/engine/program.ts) runs `up` twice under the real engine, against a
 *     throwaway PostgreSQL cluster and the Cloudflare API stand-in; the second up's figures come from the
 *     engine (its own change count), the database (generations) and the stand-in (rollouts, uploads).
 *   - The docker provider has no plugin here, so the whole program (index.ts) runs twice under the mock
 *     runtime: a docker Image whose inputs differ between the runs would push. The docker provider diffs
 *     only the registry's server, so the per-run push login is left out.
 * Prints `noop: worker_uploads=<a> generations=<b> rollouts=<c> image_pushes=<d> engine_changes=<e>`.
 */
import { isDeepStrictEqual } from "node:util";
import type { RecordedResource } from "../lib/plan/mock-runtime";
import { engineMissing } from "../tests/engine/harness";
import { EngineScenario } from "../tests/engine/scenario";
import { devStackEnv, type RecordedRun, recordRun } from "../tests/support/record";

/** Resources of `type` whose inputs differ between two runs of the same program. */
function changedBetween(
  first: RecordedRun,
  second: RecordedRun,
  type: string,
  ignore: (inputs: object) => object,
) {
  const inputsOf = (run: RecordedRun) =>
    new Map(
      run.resources
        .filter((resource: RecordedResource) => resource.type === type)
        .map((resource) => [resource.urn, ignore(resource.inputs as object)]),
    );
  const [before, after] = [inputsOf(first), inputsOf(second)];
  if (before.size === 0) throw new Error(`the program registered no ${type}: ${first.stderr}`);
  return [...after].filter(([urn, inputs]) => !isDeepStrictEqual(before.get(urn), inputs)).length;
}

function wholeProgramTwice(): [RecordedRun, RecordedRun] {
  const run = () => {
    const recorded = recordRun(devStackEnv());
    if (recorded.status !== 0) throw new Error(`the program failed under mocks: ${recorded.stderr}`);
    return recorded;
  };
  return [run(), run()];
}

async function main(): Promise<void> {
  const missing = engineMissing();
  if (missing) throw new Error(missing);
  const [first, second] = wholeProgramTwice();
  // The login is secret as a whole ({ secret: { server, username, password } } once unwrapped).
  type Login = { server?: string };
  const withoutPushLogin = ({ registry, ...inputs }: { registry?: Login | { secret: Login } } & object) => ({
    ...inputs,
    server: registry && "secret" in registry ? registry.secret.server : registry?.server,
  });
  const imagePushes = changedBetween(first, second, "docker:index/image:Image", withoutPushLogin);

  const scenario = await EngineScenario.start();
  try {
    const stack = await scenario.stack(scenario.inputs());
    await stack.up();
    const before = {
      generations: await scenario.generations(),
      rollouts: scenario.fake.rollouts.length,
      uploads: scenario.uploads().length,
    };
    const noop = await stack.up();
    const engineChanges = Object.entries(noop.summary.resourceChanges ?? {})
      .filter(([op]) => op !== "same")
      .reduce((sum, [, count]) => sum + count, 0);
    console.log(
      `noop: worker_uploads=${scenario.uploads().length - before.uploads} generations=${(await scenario.generations()) - before.generations} rollouts=${scenario.fake.rollouts.length - before.rollouts} image_pushes=${imagePushes} engine_changes=${engineChanges}`,
    );
  } finally {
    await scenario.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:noop: ${(error as Error).message}`);
  process.exit(1);
});
