// The exact Worker bundle the program uploads, with the bindings it uploads for alpha, in the real Workers
// runtime (workerd from npm). The Durable Object's container is a double (tests/support/container-double.ts)
// kept in the test process, so a "container" outlives a restart of workerd, as a real one outlives a deploy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerEnvVars } from "../worker/src/container-env";
import { type ContainerDouble, startContainerDouble } from "./support/container-double";
import { type Binding, envOf, programUpload, withText } from "./support/worker-upload";
import { startWorkerd, type WorkerdProcess } from "./support/workerd";

describe("the Worker in the real Workers runtime (workerd), container double", () => {
  let upload: ReturnType<typeof programUpload>;
  let double: ContainerDouble;
  let dir: string;
  let runtime: WorkerdProcess | undefined;
  let bindings: Binding[];

  /** A deploy: workerd restarted with the Worker's new bindings; storage and containers carry over. */
  async function deploy(changes: Record<string, string> = {}) {
    await runtime?.stop();
    bindings = withText(bindings, changes);
    runtime = await startWorkerd(
      {
        code: upload.code,
        compatibilityDate: upload.compatibilityDate,
        compatibilityFlags: [],
        bindings,
        testEntry: true,
        testText: { TEST_CONTAINERS: double.snapshot() },
        testServices: { CONTAINER_DOUBLE: double.address },
      },
      dir,
    );
  }
  const get = (path: string, timeoutMs = 30_000) =>
    fetch(`${runtime?.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });

  beforeAll(async () => {
    upload = programUpload();
    bindings = upload.bindings;
    double = await startContainerDouble();
    double.imageSha = envOf(bindings).SPECTRAL_GIT_SHA as string;
    dir = mkdtempSync(join(tmpdir(), "spectral-workerd-"));
    await deploy();
  }, 60_000);
  afterAll(async () => {
    await runtime?.stop();
    await double?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs alpha's compatibility date, which the pinned runtime supports", () => {
    const { compatibilityDate: newest } = require("workerd") as { compatibilityDate: string };
    expect(upload.compatibilityDate <= newest, `${upload.compatibilityDate} > ${newest}`).toBe(true);
  });

  it("proxies a request to the container, started with exactly containerEnvVars of the Worker's bindings", async () => {
    const response = await get("/api/things?page=2");
    expect(response.status, runtime?.output()).toBe(200);
    expect(await response.json()).toEqual({
      proxied: "/api/things",
      generation: "1",
      instance: "instance-0",
    });
    const container = double.container("instance-0");
    expect(container.starts).toEqual([containerEnvVars(envOf(bindings))]);
    expect(container.starts[0].SPECTRAL_GENERATION).toBe("1");
  });

  it("a new SPECTRAL_GENERATION stops the running container (SIGTERM) and starts it with the new env on the next request; only a 200 /health is ready", async () => {
    const container = double.container("instance-0");
    container.healthStatus = 503;
    await deploy({ SPECTRAL_GENERATION: "2" });
    const pending = get("/after-deploy");
    // Not ready while /health answers 503: the request waits.
    const early = await Promise.race([
      pending.then(() => "answered"),
      new Promise((r) => setTimeout(() => r("waiting"), 1_500)),
    ]);
    expect(early).toBe("waiting");
    expect(container.signals).toEqual([15]);
    expect(container.starts.at(-1)).toEqual(containerEnvVars(envOf(bindings)));
    container.healthStatus = 200;
    const response = await pending;
    expect(await response.json()).toMatchObject({ proxied: "/after-deploy", generation: "2" });
    expect(container.starts.map((env) => env.SPECTRAL_GENERATION)).toEqual(["1", "2"]);
  });

  it("a new SPECTRAL_GENERATION reaches the container on the next cron tick, with no request", async () => {
    await deploy({ SPECTRAL_GENERATION: "3" });
    const response = await get("/__test/cron");
    expect(response.status, runtime?.output()).toBe(200);
    const container = double.container("instance-0");
    expect(container.signals).toEqual([15, 15]);
    expect(container.starts.map((env) => env.SPECTRAL_GENERATION)).toEqual(["1", "2", "3"]);
    expect(container.running).toBe(true);
  });

  it("the cron tick wakes every instance, starting those not running and leaving current ones alone", async () => {
    await deploy({ SPECTRAL_INSTANCES: "3" });
    await get("/__test/cron");
    for (const name of ["instance-0", "instance-1", "instance-2"])
      expect(double.container(name).running, name).toBe(true);
    expect(double.container("instance-0").starts).toHaveLength(3);
    expect(double.container("instance-1").starts.map((env) => env.SPECTRAL_GENERATION)).toEqual(["3"]);
    // Requests are spread across the three.
    const served = new Set<string>();
    for (let i = 0; i < 30; i++)
      served.add(((await (await get("/spread")).json()) as { instance: string }).instance);
    expect(served).toEqual(new Set(["instance-0", "instance-1", "instance-2"]));
  });
});
