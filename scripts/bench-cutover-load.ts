/**
 * `pnpm bench:cutover-load`: what users see during a generation cutover. The Worker runs in workerd with
 * the real app image on the private Docker engine (tests/support/worker-container-runtime.ts); a bounded
 * load loop (tests/support/cutover-load.ts: 4 clients sending GET /health over loopback) runs through a
 * deploy of a new generation with a rotated secret and a new image, deployed inside the running workerd as
 * a Cloudflare deployment is (requests in flight finish). One line per instance count, 1 then 2:
 *   requests        requests the loop sent; failed: those not answered 200
 *   steady_p99_ms   p99 latency before the deploy: the baseline, measured in the same run
 *   cutover_p99_ms  p99 latency of requests sent from the deploy until the cutover was over
 *   max_ms          the slowest request of the run
 *   overlap_s       how long old and new containers ran side by side
 *   p99_ratio       cutover_p99_ms / steady_p99_ms
 * Goals: failed=0, p99_ratio <= 2, max_ms <= 1000. `SPECTRAL_BENCH_SHORT=1` shortens the steady phase.
 * Prints `cutover_load: instances=N requests=R failed=F steady_p99_ms=… cutover_p99_ms=… max_ms=…
 * overlap_s=… p99_ratio=…` per instance count.
 */
import { resolve } from "node:path";
import {
  buildAppVariants,
  DEFAULT_LIMITS,
  loadThroughCutover,
  NEW_SHA,
  overlapSeconds,
  servesOnly,
  settle,
  variantTag,
} from "../tests/support/cutover-load";
import { buildAppImage, imageTag, startEngine } from "../tests/support/image-builds";
import { WorkerContainerRuntime } from "../tests/support/worker-container-runtime";
import { envOf } from "../tests/support/worker-upload";
import { benchSize } from "./bench-support";

const ROOT = resolve(__dirname, "..");
const LIMITS = { ...DEFAULT_LIMITS, steadyMs: benchSize(5_000, 1_000), afterMs: benchSize(1_000, 200) };

async function main(): Promise<void> {
  const engine = startEngine(ROOT);
  buildAppImage(engine, ROOT);
  buildAppVariants(engine, ["new-commit"]);
  const runtime = await WorkerContainerRuntime.start(engine);
  // Each cutover swaps the image: to a new commit, then back to the app image's own.
  const images = [
    { tag: variantTag("new-commit"), sha: NEW_SHA },
    { tag: imageTag("app"), sha: envOf(runtime.bindings).SPECTRAL_GIT_SHA },
  ];
  try {
    let generation = 1;
    for (const [index, instances] of [1, 2].entries()) {
      const image = images[index];
      await runtime.rollOut({ SPECTRAL_INSTANCES: String(instances) });
      await settle(runtime, String(generation));
      const [from, to] = [String(generation), String(generation + 1)];
      generation++;
      const load = await loadThroughCutover(
        runtime,
        {
          deploy: () =>
            runtime.rollOut(
              { SPECTRAL_GENERATION: to, SPECTRAL_GIT_SHA: image.sha, STRIPE_SECRET_KEY: `sk_bench_${to}` },
              image.tag,
            ),
          finished: servesOnly(runtime, to, image.sha),
        },
        LIMITS,
      );
      const overlap = overlapSeconds(await runtime.containers(), from, to);
      console.log(
        `cutover_load: instances=${instances} requests=${load.requests} failed=${load.failed} steady_p99_ms=${load.steadyP99Ms.toFixed(1)} cutover_p99_ms=${load.cutoverP99Ms.toFixed(1)} max_ms=${load.maxMs.toFixed(0)} overlap_s=${overlap.toFixed(1)} p99_ratio=${(load.cutoverP99Ms / load.steadyP99Ms).toFixed(2)}`,
      );
      if (load.failed > 0) console.error(load.failures.join("\n"));
    }
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:cutover-load: ${(error as Error).message}`);
  process.exit(1);
});
