/**
 * `pnpm bench:worker`: the Worker in front of the real app image, in the container suite's runtime (workerd,
 * the private Docker engine and the Docker API proxy; see tests/support/worker-container-runtime.ts), in one
 * run: the first request through the Worker (container start included), the p50 of 200 later /health
 * requests through the Worker against the p50 of the same requests straight to the container's port
 * (interleaved), and the time from a deploy with a new generation to the first response that shows it.
 * Goals: overhead_ratio <= 1.5; cutover_ms well under the supervisor's stop grace plus one start.
 * Prints `worker: cold_start_ms=<a> warm_request_ms=<b> direct_ms=<c> overhead_ratio=<b/c> cutover_ms=<d>`.
 */
import { resolve } from "node:path";
import { buildAppImage, startEngine } from "../tests/support/image-builds";
import { APP_PORT, WorkerContainerRuntime } from "../tests/support/worker-container-runtime";

const ROOT = resolve(__dirname, "..");
const REQUESTS = 200;

async function milliseconds(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function healthOk(url: string): Promise<{ generation: string | null }> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url} answered ${response.status}`);
  return (await response.json()) as { generation: string | null };
}

async function main(): Promise<void> {
  const engine = startEngine(ROOT);
  buildAppImage(engine, ROOT);
  const runtime = await WorkerContainerRuntime.start(engine);
  try {
    const cold = await milliseconds(() => healthOk(`${runtime.url}/health`));
    const throughWorker: number[] = [];
    const direct: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      throughWorker.push(await milliseconds(() => healthOk(`${runtime.url}/health`)));
      direct.push(await milliseconds(() => healthOk(`http://127.0.0.1:${APP_PORT}/health`)));
    }
    const cutover = await milliseconds(async () => {
      await runtime.deploy({ SPECTRAL_GENERATION: "2" });
      while ((await healthOk(`${runtime.url}/health`)).generation !== "2")
        await new Promise((r) => setTimeout(r, 20));
    });
    const [warm, straight] = [p50(throughWorker), p50(direct)];
    console.log(
      `worker: cold_start_ms=${cold.toFixed(0)} warm_request_ms=${warm.toFixed(2)} direct_ms=${straight.toFixed(2)} overhead_ratio=${(warm / straight).toFixed(2)} cutover_ms=${cutover.toFixed(0)}`,
    );
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:worker: ${(error as Error).message}`);
  process.exit(1);
});
