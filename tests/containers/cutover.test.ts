// Zero-pause cutover, proven with the real Workers runtime (workerd), the real app image and the private
// Docker engine, through the local Docker API proxy (tests/support/docker-proxy.ts; the only stand-in). A
// bounded load loop (tests/support/cutover-load.ts) runs through each deploy; deploys happen inside the
// running workerd (WorkerContainerRuntime.rollOut), as a Cloudflare deployment leaves requests in flight
// alone. Speed is pnpm bench:cutover-load's; these tests assert what happens.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CUTOVER_STATUS_PATH, type InstanceStatus } from "../../worker/src/cutover";
import {
  APP_VARIANTS,
  type AppVariant,
  buildAppVariants,
  loadThroughCutover,
  NEW_SHA,
  overlapSeconds,
  peakRunning,
  servesOnly,
  settle,
  variantTag,
} from "../support/cutover-load";
import { containerLogs } from "../support/image-builds";
import { WorkerContainerRuntime } from "../support/worker-container-runtime";
import { envOf } from "../support/worker-upload";
import { setup, skipReason, startEnvironment } from "./run";

/** The Worker's start timeout in these tests (cloudflare.startTimeoutSeconds; 90 by default). */
const START_TIMEOUT_SECONDS = 10;
/** The supervisor's stop grace plus the router's drain limit: how long an old container may outlive a cutover. */
const DRAIN_BOUND_S = 30 + 30;
describe.skipIf(skipReason !== undefined)(
  "zero-pause cutover: the Worker and the real app image in workerd (local Docker API proxy)",
  () => {
    let runtime: WorkerContainerRuntime;
    /** The last generation deployed, and the one that serves (a failed start leaves the old one serving). */
    let deployed = 1;
    let serving = "1";
    const engine = () => {
      if ("skipped" in setup) throw new Error(setup.skipped);
      return { dockerHost: setup.dockerHost };
    };
    const status = async () =>
      ((await (await runtime.get(CUTOVER_STATUS_PATH)).json()) as { instances: InstanceStatus[] }).instances;
    const running = async () => (await runtime.containers()).filter((each) => each.running);
    const gitSha = () => envOf(runtime.bindings).SPECTRAL_GIT_SHA;

    /** A deploy of the next generation under load; returns the load's record and the generations. */
    async function cutover(changes: Record<string, string>, image?: string, expectSha = gitSha()) {
      const [from, to] = [serving, String(++deployed)];
      const load = await loadThroughCutover(runtime, {
        deploy: () => runtime.rollOut({ ...changes, SPECTRAL_GENERATION: to }, image),
        finished: servesOnly(runtime, to, expectSha),
      });
      serving = to;
      return { load, from, to };
    }

    beforeAll(async () => {
      if ("skipped" in setup) return;
      buildAppVariants(engine(), Object.keys(APP_VARIANTS) as AppVariant[]);
      runtime = await WorkerContainerRuntime.start(engine());
      await runtime.rollOut({ SPECTRAL_START_TIMEOUT_SECONDS: String(START_TIMEOUT_SECONDS) });
      await settle(runtime, serving);
    }, 300_000);
    afterAll(async () => runtime?.close());

    it("one instance, a rotated secret: no request fails or answers from a half-started container; the old container drains and its workers stop", async () => {
      const rotated = "sk_live_rotated_under_load";
      const { load, from, to } = await cutover({ STRIPE_SECRET_KEY: rotated });
      expect(load.failed, load.failures.join("\n")).toBe(0);
      expect(load.answeredBy[to]).toBeGreaterThan(0);
      expect(Object.keys(load.answeredBy).sort()).toEqual([from, to].sort());
      const containers = await runtime.containers();
      const [serving] = containers.filter((each) => each.running);
      expect(containers.filter((each) => each.running)).toHaveLength(1);
      expect(startEnvironment(serving.name)).toEqual(
        expect.arrayContaining([`SPECTRAL_GENERATION=${to}`, `STRIPE_SECRET_KEY=${rotated}`]),
      );
      // The old generation's container ran beside the new one only for the start and the drain, and its
      // background workers stopped on SIGTERM, within the drain bound.
      const [old] = containers.filter((each) => each.generation === from);
      expect(old.running).toBe(false);
      expect(overlapSeconds(containers, from, to)).toBeLessThan(START_TIMEOUT_SECONDS + DRAIN_BOUND_S);
      expect(old.finishedAt - load.finishedAt).toBeLessThan(DRAIN_BOUND_S * 1000);
      expect(containerLogs(engine(), old.name)).toMatch(
        /workers: received SIGTERM, stopping[\s\S]*workers: stopped/,
      );
    });

    it("one instance, a new image: the new commit serves once its container is healthy, with no failed request", async () => {
      const { load, to } = await cutover({ SPECTRAL_GIT_SHA: NEW_SHA }, variantTag("new-commit"), NEW_SHA);
      expect(load.failed, load.failures.join("\n")).toBe(0);
      expect(await status()).toEqual([
        { instance: "instance-0", serving: { generation: to, gitSha: NEW_SHA }, failed: null },
      ]);
      const health = (await (await runtime.get("/health")).json()) as { build: { sha: string } };
      expect(health.build.sha).toBe(NEW_SHA);
    });

    it("two instances: they cut over one after the other, never running more than one extra container; none fails a request", async () => {
      await runtime.rollOut({ SPECTRAL_INSTANCES: "2" });
      await settle(runtime, serving);
      const { load, from, to } = await cutover({ STRIPE_SECRET_KEY: "sk_live_second_rotation" });
      expect(load.failed, load.failures.join("\n")).toBe(0);
      expect((await status()).map((each) => each.serving?.generation)).toEqual([to, to]);
      expect((await running()).map((each) => each.generation)).toEqual([to, to]);
      const involved = (await runtime.containers()).filter((each) => [from, to].includes(each.generation));
      expect(peakRunning(involved)).toBe(3);
    });

    it.each([
      [
        "crash-at-start",
        /(the container exited during its start|Container exited with unexpected exit code): 3|\(exit code 3\)/,
      ],
      [
        "health-500",
        new RegExp(`/health did not answer 200 within ${START_TIMEOUT_SECONDS} s \\(last: HTTP 500\\)`),
      ],
      ["never-listens", new RegExp(`/health did not answer 200 within ${START_TIMEOUT_SECONDS} s`)],
    ] as [AppVariant, RegExp][])(
      "a new image that fails to start (%s) never takes traffic: the old generation answers every request, and the failure names the generation and the reason",
      async (image, reason) => {
        const failing = String(++deployed);
        const load = await loadThroughCutover(runtime, {
          deploy: () => runtime.rollOut({ SPECTRAL_GENERATION: failing }, variantTag(image)),
          finished: async () => (await status()).every((each) => each.failed?.generation === failing),
        });
        expect(load.failed, load.failures.join("\n")).toBe(0);
        expect(load.answeredBy).toEqual({ [serving]: load.requests });
        for (const instance of await status()) {
          expect(instance.serving?.generation).toBe(serving);
          expect(instance.failed?.reason).toMatch(reason);
        }
        // Nothing half-started is left running. (workerd creates containers with Docker's on-failure restart
        // policy, so a crashing one is restarted a few times before it stays down.)
        const deadline = Date.now() + 60_000;
        while ((await running()).some((each) => each.generation === failing) && Date.now() < deadline)
          await new Promise((resolve) => setTimeout(resolve, 500));
        expect((await running()).map((each) => each.generation)).toEqual([serving, serving]);
      },
    );

    it("after failed starts, the next deploy starts clean and serves", async () => {
      const { load, to } = await cutover({}, variantTag("new-commit"), NEW_SHA);
      expect(load.failed, load.failures.join("\n")).toBe(0);
      expect(await status()).toEqual(
        ["instance-0", "instance-1"].map((instance) => ({
          instance,
          serving: { generation: to, gitSha: NEW_SHA },
          failed: null,
        })),
      );
    });
  },
);
