/**
 * `pnpm bench:cutover`: a generation change (a new image) through the program's update path under the real
 * Pulumi engine (tests/engine/program.ts), against the Cloudflare API and registry stand-ins, a throwaway
 * PostgreSQL cluster, and the Worker in workerd running the real app image on the private Docker engine.
 * Timings come from the engine's event stream, as the update runs:
 *   up_to_serving_s  the update's start to the deploy verification's result
 *   rollout_wait_s   the container application's step (PATCH, rollout, waiting for it)
 *   verify_s         the deploy verification's step
 * and api_calls_<n> counts the Cloudflare API calls the update made with an n-secret manifest.
 * Goal: api_calls_40 = api_calls_5 (the calls do not grow with the number of secrets).
 * Prints `cutover: up_to_serving_s=<a> rollout_wait_s=<b> verify_s=<c> api_calls_5=<n> api_calls_40=<m>`.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { engineMissing } from "../tests/engine/harness";
import { imageReference } from "../tests/engine/program";
import { EngineScenario } from "../tests/engine/scenario";
import { buildAppImage, startEngine } from "../tests/support/image-builds";

const ROOT = resolve(__dirname, "..");

interface Measured {
  upToServing: number;
  rolloutWait: number;
  verify: number;
  apiCalls: number;
}

async function cutover(engine: ReturnType<typeof startEngine>, secretCount: number): Promise<Measured> {
  const scenario = await EngineScenario.start(undefined, engine);
  try {
    // The real image reports the checkout's commit.
    const { sha } = JSON.parse(readFileSync(resolve(ROOT, "infra/docker/version.json"), "utf8")) as {
      sha: string;
    };
    const secrets = Object.fromEntries(
      Array.from({ length: secretCount }, (_, i) => [`BENCH_SECRET_${i}`, `bench-value-${i}`]),
    );
    const base = { ...scenario.inputs(), secrets, gitSha: sha, verifyTimeoutSeconds: 120 };
    await (await scenario.stack(base)).up();
    const callsBefore = scenario.fake.requests.length;
    const seen = new Map<string, number>();
    const started = Date.now();
    const stack = await scenario.stack({ ...base, image: imageReference("2") });
    await stack.up({
      onEvent: (event: EngineEvent) => {
        const step = event.resourcePreEvent?.metadata ?? event.resOutputsEvent?.metadata;
        if (!step) return;
        const phase = event.resourcePreEvent ? "pre" : "done";
        seen.set(`${phase}:${step.urn.split("::").pop()}`, Date.now());
      },
    });
    const at = (key: string) => {
      const time = seen.get(key);
      if (time === undefined) throw new Error(`the update reported no ${key}`);
      return time;
    };
    return {
      upToServing: (at("done:app-verification") - started) / 1000,
      rolloutWait: (at("done:app-container") - at("pre:app-container")) / 1000,
      verify: (at("done:app-verification") - at("pre:app-verification")) / 1000,
      apiCalls: scenario.fake.requests.length - callsBefore,
    };
  } finally {
    await scenario.close();
  }
}

async function main(): Promise<void> {
  const missing = engineMissing();
  if (missing) throw new Error(missing);
  const engine = startEngine(ROOT);
  buildAppImage(engine, ROOT);
  const five = await cutover(engine, 5);
  const forty = await cutover(engine, 40);
  console.log(
    `cutover: up_to_serving_s=${five.upToServing.toFixed(2)} rollout_wait_s=${five.rolloutWait.toFixed(2)} verify_s=${five.verify.toFixed(2)} api_calls_5=${five.apiCalls} api_calls_40=${forty.apiCalls}`,
  );
}

main().catch((error: unknown) => {
  console.error(`bench:cutover: ${(error as Error).message}`);
  process.exit(1);
});
