// The exact Worker bundle the program uploads, with the bindings it uploads for alpha, in the real Workers
// runtime (workerd from npm). The Durable Object's container is a double (tests/support/container-double.ts)
// kept in the test process, so a "container" outlives a restart of workerd, as a real one outlives a deploy.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerEnvVars } from "../worker/src/container-env";
import { CUTOVER_STATUS_PATH, type InstanceStatus } from "../worker/src/cutover";
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

  /** Polls until `check` holds (the cutover runs in the background of the requests). */
  async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline)
        throw new Error(`not within ${timeoutMs} ms: ${what}\n${runtime?.output().slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  const served = async (path: string) => {
    const response = await get(path);
    expect(response.status, runtime?.output().slice(-3000)).toBe(200);
    return (await response.json()) as { generation: string; instance: string };
  };
  const status = async () =>
    ((await (await get(CUTOVER_STATUS_PATH)).json()) as { instances: InstanceStatus[] }).instances;

  it("an instance from before blue/green (its container run by the router object) moves to blue on its first request, and the router's own container stops", async () => {
    const legacy = double.container("instance-0");
    legacy.running = true;
    await deploy();
    expect(await get("/legacy").then((response) => response.json())).toMatchObject({
      generation: "1",
      instance: "instance-0/blue",
    });
    await eventually("the router's own container stopped", () => !legacy.running);
    expect(legacy.signals).toEqual([15]);
  });

  it("proxies a request to the instance's blue slot, started with exactly containerEnvVars; the router runs no container", async () => {
    const response = await get("/api/things?page=2");
    expect(response.status, runtime?.output()).toBe(200);
    expect(await response.json()).toEqual({
      proxied: "/api/things",
      generation: "1",
      instance: "instance-0/blue",
    });
    const blue = double.container("instance-0/blue");
    expect(blue.starts).toEqual([containerEnvVars(envOf(bindings))]);
    expect(double.container("instance-0").starts).toEqual([]);
    expect(await status()).toEqual([
      { instance: "instance-0", serving: { generation: "1", gitSha: double.imageSha }, failed: null },
    ]);
  });

  it("a new generation starts green beside blue; blue answers until green's /health is 200, then drains and stops (SIGTERM)", async () => {
    const [blue, green] = [double.container("instance-0/blue"), double.container("instance-0/green")];
    green.healthStatus = 503;
    await deploy({ SPECTRAL_GENERATION: "2" });
    // No pause: the old generation answers at once while the new one starts.
    expect(await served("/during-start")).toMatchObject({ generation: "1", instance: "instance-0/blue" });
    await eventually("green started", () => green.starts.length === 1);
    expect(green.starts[0]).toEqual(containerEnvVars(envOf(bindings)));
    expect(await served("/green-not-healthy")).toMatchObject({
      generation: "1",
      instance: "instance-0/blue",
    });
    expect(blue.signals).toEqual([]);
    green.healthStatus = 200;
    await eventually("green serves", async () => (await served("/after")).instance === "instance-0/green");
    expect(await served("/after")).toMatchObject({ generation: "2", proxied: "/after" });
    await eventually("blue drained", () => !blue.running);
    expect(blue.signals).toEqual([15]);
    expect(blue.starts).toHaveLength(1);
  });

  it("a generation whose container exits at start, or whose /health answers 500, never takes traffic; the status names it and why; the next one starts clean", async () => {
    const blue = double.container("instance-0/blue");
    blue.exitOnStart = true;
    await deploy({ SPECTRAL_GENERATION: "3" });
    expect(await served("/crash")).toMatchObject({ generation: "2", instance: "instance-0/green" });
    await eventually("failure recorded", async () => (await status())[0].failed?.generation === "3");
    expect((await status())[0]).toEqual({
      instance: "instance-0",
      serving: { generation: "2", gitSha: double.imageSha },
      failed: { generation: "3", reason: expect.stringContaining("the container exited during its start") },
    });
    expect(await served("/still-old")).toMatchObject({ generation: "2", instance: "instance-0/green" });

    Object.assign(blue, { exitOnStart: false, healthStatus: 500 });
    await deploy({ SPECTRAL_GENERATION: "4", SPECTRAL_START_TIMEOUT_SECONDS: "1" });
    expect(await served("/unhealthy")).toMatchObject({ generation: "2" });
    await eventually("failure recorded", async () => (await status())[0].failed?.generation === "4");
    expect((await status())[0].failed?.reason).toBe("/health did not answer 200 within 1 s (last: HTTP 500)");
    // The failed container was removed: nothing half-started lingers.
    expect(blue.running).toBe(false);
    expect(await served("/still-old")).toMatchObject({ generation: "2", instance: "instance-0/green" });

    blue.healthStatus = 200;
    await deploy({ SPECTRAL_GENERATION: "5" });
    await eventually("generation 5 serves", async () => (await served("/next")).generation === "5");
    expect((await status())[0]).toEqual({
      instance: "instance-0",
      serving: { generation: "5", gitSha: double.imageSha },
      failed: null,
    });
    expect(blue.starts.map((env) => env.SPECTRAL_GENERATION)).toEqual(["1", "3", "4", "5"]);
  });

  it("the cron tick brings every instance to the generation with no request, and leaves current ones alone", async () => {
    await deploy({ SPECTRAL_INSTANCES: "3" });
    expect((await get("/__test/cron")).status, runtime?.output()).toBe(200);
    for (const name of ["instance-1/blue", "instance-2/blue"])
      expect(
        double.container(name).starts.map((env) => env.SPECTRAL_GENERATION),
        name,
      ).toEqual(["5"]);
    expect(double.container("instance-0/blue").starts).toHaveLength(4);
    expect((await status()).map((each) => each.serving?.generation)).toEqual(["5", "5", "5"]);
    // Requests are spread across the three.
    const instances = new Set<string>();
    for (let i = 0; i < 30; i++) instances.add((await served("/spread")).instance);
    expect(instances).toEqual(new Set(["instance-0/blue", "instance-1/blue", "instance-2/blue"]));
  });
});
