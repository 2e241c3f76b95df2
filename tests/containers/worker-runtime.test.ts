// The Worker in the real Workers runtime (workerd) with the real app image, through the local Docker API proxy
// (tests/support/docker-proxy.ts). No stand-ins but that proxy, which plays workerd's network sidecar.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APP_PORT, WorkerContainerRuntime } from "../support/worker-container-runtime";
import { envOf } from "../support/worker-upload";
import { setup, skipReason, startEnvironment } from "./run";

interface Health {
  generation: string | null;
  build: { sha: string };
  features: Record<string, { wired: boolean }>;
}

describe.skipIf(skipReason !== undefined)(
  "the Worker and the real app image in workerd (local Docker API proxy)",
  () => {
    let runtime: WorkerContainerRuntime;
    const health = async (path = "/health") => {
      const response = await runtime.get(path);
      expect(response.status, runtime.output().slice(-3000)).toBe(200);
      return (await response.json()) as Health;
    };

    beforeAll(async () => {
      if ("skipped" in setup) return;
      runtime = await WorkerContainerRuntime.start({ dockerHost: setup.dockerHost });
    }, 120_000);
    afterAll(async () => runtime?.close());

    /** Polls /health until it reports `generation`: the new container starts beside the old one. */
    const healthOf = async (generation: string) => {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const served = await health();
        if (served.generation === generation || Date.now() > deadline) return served;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    const running = async () => (await runtime.containers()).filter((each) => each.running);

    it("a request to the Worker reaches the real /health, with the Worker's generation and the image's commit", async () => {
      const served = await health();
      expect(served.generation).toBe("1");
      expect(served.build.sha).toBe(envOf(runtime.bindings).SPECTRAL_GIT_SHA);
      expect(runtime.appContainers()).toHaveLength(1);
    });

    it("after a deploy with a new generation and one rotated secret, the next request shows the new generation, and the secret reached exactly the children of its scope", async () => {
      const rotated = "sk_live_rotated_in_workerd";
      await runtime.deploy({ SPECTRAL_GENERATION: "2", STRIPE_SECRET_KEY: rotated });
      expect((await healthOf("2")).generation).toBe("2");
      const [container] = (await running())
        .filter((each) => each.generation === "2")
        .map((each) => each.name);
      // The Worker's hop: the container started with the new generation and the rotated value.
      const started = startEnvironment(container);
      expect(started).toContain("SPECTRAL_GENERATION=2");
      expect(started).toContain(`STRIPE_SECRET_KEY=${rotated}`);
      // The supervisor's hop, to the API: billing is wired, so the API sees the secret. The public /health
      // says only that, never a name. Which child gets which scope is the secret-hop suite's, with stub
      // children that report their values.
      const answer = await health();
      expect(answer.features.billing).toEqual({ wired: true });
      expect(JSON.stringify(answer)).not.toContain("STRIPE_SECRET_KEY");
    });

    it("with no request at all, a cron tick starts the container", async () => {
      await runtime.stopAll();
      expect(runtime.appContainers()).toEqual([]);
      await runtime.deploy();
      expect(runtime.appContainers()).toEqual([]);
      expect((await runtime.get("/__test/cron")).status, runtime.output().slice(-3000)).toBe(200);
      const [started] = await running();
      expect(await running()).toHaveLength(1);
      const direct = (await (await fetch(`http://${started.address}:${APP_PORT}/health`)).json()) as Health;
      expect(direct.generation).toBe("2");
    });
  },
);
