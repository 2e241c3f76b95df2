/**
 * `pnpm bench:worker`: the Worker in front of the real app image, in the container suite's runtime (workerd,
 * the private Docker engine and the Docker API proxy; see tests/support/worker-container-runtime.ts), in one
 * run. After the first request, every path is measured with the same minimal HTTP/1.1 client on one
 * kept-alive connection, interleaved request by request, so that only the path differs:
 * - cold_start_ms: the first request through the Worker, container start included;
 * - warm_request_ms: p50 of later /health requests through the Worker;
 * - harness_ms: p50 of the same request over the path the Worker's requests take, without the Worker: a
 *   kept-alive connection through one CONNECT tunnel of the test's sidecar (docker-proxy.ts, which plays
 *   Cloudflare's proxy-everything sidecar). workerd reuses its tunnel once warm: `tunnels_per_request`
 *   counts the tunnels it opened during the measured requests.
 * - direct_ms: p50 straight to the container's port (its bridge address), for reference;
 * - overhead_ratio = warm / harness: what workerd, the Worker and its Durable Object add, the one figure the
 *   goal (<= 1.5) is about;
 * - cutover_ms: from a deploy with a new generation (a workerd restart) to the first response that shows
 *   it; the old generation answers meanwhile (blue/green: `pnpm bench:cutover-load` measures that).
 * `SPECTRAL_BENCH_SHORT=1` makes 10 requests instead of 200.
 * Prints `worker: cold_start_ms=… warm_request_ms=… harness_ms=… direct_ms=… tunnels_per_request=…
 * overhead_ratio=… cutover_ms=…`.
 */
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { resolve } from "node:path";
import { buildAppImage, startEngine } from "../tests/support/image-builds";
import { APP_PORT, WorkerContainerRuntime } from "../tests/support/worker-container-runtime";
import { benchSize } from "./bench-support";

const ROOT = resolve(__dirname, "..");
const REQUESTS = benchSize(200, 10);

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

/** Sequential GETs on one kept-alive connection; a response ends by content-length or its last chunk. */
function keepAliveClient(socket: Socket, host: string): { get(path: string): Promise<void>; close(): void } {
  let buffered = Buffer.alloc(0);
  let complete: ((head: string) => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    const headEnd = buffered.indexOf("\r\n\r\n");
    if (headEnd < 0) return;
    const head = buffered.subarray(0, headEnd).toString();
    const length = /^content-length: *(\d+)/im.exec(head);
    const lastChunk = buffered.indexOf("\r\n0\r\n\r\n", headEnd);
    const end = length ? headEnd + 4 + Number(length[1]) : lastChunk < 0 ? -1 : lastChunk + 7;
    if (end < 0 || buffered.length < end) return;
    buffered = buffered.subarray(end);
    complete?.(head);
  });
  return {
    get: (path) =>
      new Promise((done, fail) => {
        complete = (head) =>
          head.startsWith("HTTP/1.1 200") ? done() : fail(new Error(`${host}${path}: ${head}`));
        socket.write(`GET ${path} HTTP/1.1\r\nhost: ${host}\r\n\r\n`);
      }),
    close: () => socket.destroy(),
  };
}

function connected(port: number, host = "127.0.0.1"): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect(port, host, () => done(socket));
    socket.once("error", fail);
  });
}

/** One CONNECT tunnel through the sidecar on `sidecarPort` to the app, as workerd opens them. */
function tunnelled(sidecarPort: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const tunnel = request({
      host: "127.0.0.1",
      port: sidecarPort,
      method: "CONNECT",
      path: `127.0.0.1:${APP_PORT}`,
    });
    tunnel.once("connect", (_answer, socket: Socket) => done(socket));
    tunnel.once("error", fail);
    tunnel.end();
  });
}

async function main(): Promise<void> {
  const engine = startEngine(ROOT);
  buildAppImage(engine, ROOT);
  const runtime = await WorkerContainerRuntime.start(engine);
  try {
    const cold = await milliseconds(() => healthOk(`${runtime.url}/health`));
    const [sidecar] = runtime.sidecars();
    const [app] = (await runtime.containers()).filter((each) => each.running);
    const paths = {
      worker: keepAliveClient(await connected(Number(new URL(runtime.url).port)), new URL(runtime.url).host),
      harness: keepAliveClient(await tunnelled(sidecar.port), `127.0.0.1:${APP_PORT}`),
      direct: keepAliveClient(await connected(APP_PORT, app.address), `${app.address}:${APP_PORT}`),
    };
    const timings = { worker: [] as number[], harness: [] as number[], direct: [] as number[] };
    const tunnelsBefore = runtime.sidecars()[0].tunnelsOpened;
    for (let i = 0; i < REQUESTS; i++)
      for (const path of ["worker", "harness", "direct"] as const)
        timings[path].push(await milliseconds(() => paths[path].get("/health")));
    // The harness opened one tunnel itself; any other was workerd's.
    const workerTunnels = runtime.sidecars()[0].tunnelsOpened - tunnelsBefore;
    for (const client of Object.values(paths)) client.close();
    const cutover = await milliseconds(async () => {
      await runtime.deploy({ SPECTRAL_GENERATION: "2" });
      while ((await healthOk(`${runtime.url}/health`)).generation !== "2")
        await new Promise((r) => setTimeout(r, 20));
    });
    const [warm, harness, direct] = [p50(timings.worker), p50(timings.harness), p50(timings.direct)];
    console.log(
      `worker: cold_start_ms=${cold.toFixed(0)} warm_request_ms=${warm.toFixed(2)} harness_ms=${harness.toFixed(2)} direct_ms=${direct.toFixed(2)} tunnels_per_request=${(workerTunnels / REQUESTS).toFixed(2)} overhead_ratio=${(warm / harness).toFixed(2)} cutover_ms=${cutover.toFixed(0)}`,
    );
  } finally {
    await runtime.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:worker: ${(error as Error).message}`);
  process.exit(1);
});
