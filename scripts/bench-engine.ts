/**
 * `pnpm bench:engine`: what the real Pulumi engine costs on the program's own providers. In one run, on a
 * throwaway PostgreSQL cluster and the Cloudflare API stand-in: a preview and an up of the engine program
 * (tests/engine/program.ts), the median of no-op ups, and the median no-op up of an empty inline program
 * as the baseline. Goal: noop_ratio <= 2.
 * Prints `engine: preview_s=<p> up_s=<u> noop_up_s=<n> empty_up_s=<z> noop_ratio=<n/z>`.
 */
import { engineMissing } from "../tests/engine/harness";
import { EngineScenario } from "../tests/engine/scenario";
import { benchSize, median } from "./bench-support";

const NOOP_RUNS = benchSize(5, 1);

async function seconds(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function noopMedian(up: () => Promise<{ summary: { resourceChanges?: Record<string, number> } }>) {
  const times: number[] = [];
  for (let run = 0; run < NOOP_RUNS; run++) {
    let changes: Record<string, number> = {};
    times.push(
      await seconds(async () => {
        changes = (await up()).summary.resourceChanges ?? {};
      }),
    );
    const changed = Object.entries(changes).filter(([op, count]) => op !== "same" && count > 0);
    if (changed.length > 0) throw new Error(`a no-op up made changes: ${JSON.stringify(changes)}`);
  }
  return median(times);
}

async function main(): Promise<void> {
  const missing = engineMissing();
  if (missing) throw new Error(missing);
  const scenario = await EngineScenario.start();
  try {
    const inputs = scenario.inputs();
    const stack = await scenario.stack(inputs);
    const preview = await seconds(() => stack.preview());
    const up = await seconds(() => stack.up());
    const noop = await noopMedian(() => stack.up());
    const empty = await scenario.sandbox.inlineStack("empty", async () => ({}));
    await empty.up();
    const emptyNoop = await noopMedian(() => empty.up());
    console.log(
      `engine: preview_s=${preview.toFixed(2)} up_s=${up.toFixed(2)} noop_up_s=${noop.toFixed(2)} empty_up_s=${emptyNoop.toFixed(2)} noop_ratio=${(noop / emptyNoop).toFixed(2)}`,
    );
  } finally {
    await scenario.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:engine: ${(error as Error).message}`);
  process.exit(1);
});
