// The Worker's own code: the env-to-container mapping (pure) and the deterministic bundle.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../lib/config";
import { workerSecretBindings } from "../lib/secrets/bindings";
import { bundleWorker } from "../lib/worker/bundle";
import { ContainerEnvError, containerEnvVars } from "../worker/src/container-env";
import {
  afterFailedStart,
  afterStart,
  decideRoute,
  doneWith,
  instanceCount,
  instanceNames,
  instanceStatus,
  otherSlot,
  previousInstance,
  RETRY_MS,
  type Routing,
  retryReset,
  type Slot,
  slotName,
  startTimeoutMs,
} from "../worker/src/cutover";
import { alphaConfig, REPO_ROOT } from "./support/alpha";

const manifest = parseStackConfig(alphaConfig()).secrets;
const values = Object.fromEntries(manifest.map((entry) => [entry.name, `value-of-${entry.name}`]));
const secretBindings = Object.fromEntries(
  workerSecretBindings(manifest, values).map((binding) => [binding.name, binding.text]),
);
const workerEnv: Record<string, unknown> = {
  SPECTRAL_APP: { idFromName: () => "durable object namespace" },
  SPECTRAL_SLEEP_AFTER: "10m",
  SPECTRAL_GENERATION: "12",
  ...secretBindings,
};

describe("containerEnvVars (the Worker's env → the container's env)", () => {
  it("passes every container secret, the layout and the generation, and nothing else", () => {
    const env = containerEnvVars(workerEnv);
    expect(Object.keys(env).sort()).toEqual(
      [
        "API_DATABASE_URL",
        "WORKERS_DATABASE_URL",
        "SUPABASE_JWT_SECRET",
        "STRIPE_SECRET_KEY",
        "RESEND_API_KEY",
        "SENTRY_DSN",
        "SPECTRAL_FILE_DATABASE_CA_CERT",
        "SPECTRAL_FILE_GCS_SERVICE_ACCOUNT",
        "SPECTRAL_SECRET_MANIFEST",
        "SPECTRAL_GENERATION",
      ].sort(),
    );
    expect(env.SPECTRAL_GENERATION).toBe("12");
    expect(env.STRIPE_SECRET_KEY).toBe("value-of-STRIPE_SECRET_KEY");
    expect(Buffer.from(env.SPECTRAL_FILE_DATABASE_CA_CERT, "base64").toString()).toBe(
      "value-of-DATABASE_CA_CERT",
    );
  });

  it("keeps GitHub-only secrets, the Durable Object binding and the Worker's own settings out", () => {
    const env = containerEnvVars({ ...workerEnv, PULUMI_ACCESS_TOKEN: "github-only" });
    for (const name of [
      "PULUMI_ACCESS_TOKEN",
      "CLOUDFLARE_API_TOKEN",
      "SPECTRAL_APP",
      "SPECTRAL_SLEEP_AFTER",
    ])
      expect(env).not.toHaveProperty(name);
  });

  it("names every missing binding, and no value", () => {
    const { STRIPE_SECRET_KEY: _stripe, SPECTRAL_GENERATION: _generation, ...partial } = workerEnv;
    expect(() => containerEnvVars(partial)).toThrow(
      new ContainerEnvError(
        "the Worker lacks bindings the container needs: SPECTRAL_GENERATION, STRIPE_SECRET_KEY",
      ),
    );
  });

  it("refuses a Worker without the layout, or with a layout that is not JSON", () => {
    const { SPECTRAL_SECRET_MANIFEST: _layout, ...withoutLayout } = workerEnv;
    expect(() => containerEnvVars(withoutLayout)).toThrow(
      "the Worker has no SPECTRAL_SECRET_MANIFEST binding",
    );
    expect(() => containerEnvVars({ ...workerEnv, SPECTRAL_SECRET_MANIFEST: "{" })).toThrow("is not JSON");
  });
});

describe("bundleWorker", () => {
  const bundle = bundleWorker(REPO_ROOT);

  it("is deterministic: the same source gives the same bytes", () => {
    expect(bundleWorker(REPO_ROOT).sha256).toBe(bundle.sha256);
    expect(bundleWorker(".").code).toBe(bundle.code);
  });

  it("names no machine path and holds no stack value (settings arrive as bindings)", () => {
    expect(bundle.code).not.toContain(REPO_ROOT);
    for (const value of ["spectral-alpha", "spectral-alpha-app", "0000000000000000000000000000a1fa"])
      expect(bundle.code).not.toContain(`"${value}"`);
  });

  it("exports the Durable Object class and the fetch and scheduled handlers, with /health as readiness and 8000 as the port", () => {
    expect(bundle.code).toMatch(/export\s*\{[^}]*SpectralApp[^}]*\}/);
    expect(bundle.code).toMatch(/export\s*\{[^}]*as default[^}]*\}/);
    expect(bundle.code).toContain("async scheduled(");
    expect(bundle.code).toContain('"http://container/health"');
    expect(bundle.code).toMatch(/API_PORT = 8e3|API_PORT = 8000/);
    expect(bundle.code).toContain('from "cloudflare:workers"');
  });
});

describe("decideRoute (blue/green: which slot serves, and when the next one starts)", () => {
  const wanted = { generation: "8", gitSha: "bbbb" };
  const now = 1_000_000;
  const serving = (
    generation: string,
    gitSha: string,
    startedAt = now - 5,
    slot: Slot = "green",
  ): Routing => ({
    serving: { slot, generation, gitSha, startedAt },
  });

  it("starts blue when nothing serves yet: the request waits for it", () => {
    expect(decideRoute(wanted, {}, now)).toEqual({ startIn: "blue" });
  });

  it("serves the slot that runs this generation and image, and starts nothing", () => {
    expect(decideRoute(wanted, serving("8", "bbbb"), now)).toEqual({ serve: "green" });
  });

  it("on a new generation, keeps serving the old slot while the other one starts", () => {
    expect(decideRoute(wanted, serving("7", "bbbb"), now)).toEqual({ serve: "green", startIn: "blue" });
    expect(decideRoute(wanted, serving("7", "bbbb", now - 5, "blue"), now)).toEqual({
      serve: "blue",
      startIn: "green",
    });
  });

  it("replaces a container still serving an older image at most once a minute, until the rollout reaches it", () => {
    expect(decideRoute(wanted, serving("8", "aaaa", now - 1_000), now)).toEqual({ serve: "green" });
    expect(decideRoute(wanted, serving("8", "aaaa", now - RETRY_MS), now)).toEqual({
      serve: "green",
      startIn: "blue",
    });
  });

  it("after a failed start, the old slot serves and the same generation is tried again only after a minute", () => {
    const failed = { generation: "8", reason: "the container exited during its start", at: now - 1_000 };
    expect(decideRoute(wanted, { ...serving("7", "bbbb"), failed }, now)).toEqual({ serve: "green" });
    expect(
      decideRoute(wanted, { ...serving("7", "bbbb"), failed: { ...failed, at: now - RETRY_MS } }, now),
    ).toEqual({ serve: "green", startIn: "blue" });
    // Nothing to serve and a recent failure: no start per request.
    expect(decideRoute(wanted, { failed }, now)).toEqual({});
    // The next generation starts clean, whatever failed before.
    expect(decideRoute({ ...wanted, generation: "9" }, { ...serving("7", "bbbb"), failed }, now)).toEqual({
      serve: "green",
      startIn: "blue",
    });
  });
});

describe("afterStart and afterFailedStart (the router's record)", () => {
  const now = 5_000;
  const old: Routing = { serving: { slot: "blue", generation: "7", gitSha: "aaaa", startedAt: 1 } };

  it("a healthy start serves, the previous slot drains, and an earlier failure is forgotten", () => {
    const failed = { generation: "8", reason: "x", at: 2 };
    expect(afterStart({ ...old, failed }, "green", { generation: "9", gitSha: "bbbb" }, now)).toEqual({
      serving: { slot: "green", generation: "9", gitSha: "bbbb", startedAt: now },
      draining: "blue",
    });
    expect(afterStart({}, "blue", { generation: "1", gitSha: "aaaa" }, now)).toEqual({
      serving: { slot: "blue", generation: "1", gitSha: "aaaa", startedAt: now },
    });
  });

  it("a failed start keeps what served, and records the generation and the reason", () => {
    expect(afterFailedStart(old, "8", "/health did not answer 200 within 5 s (last: HTTP 500)", now)).toEqual(
      {
        ...old,
        failed: {
          generation: "8",
          reason: "/health did not answer 200 within 5 s (last: HTTP 500)",
          at: now,
        },
      },
    );
    expect(instanceStatus("instance-0", afterFailedStart(old, "8", "boom", now))).toEqual({
      instance: "instance-0",
      serving: { generation: "7", gitSha: "aaaa" },
      failed: { generation: "8", reason: "boom" },
    });
  });
});

describe("doneWith and previousInstance (instances cut over one after another)", () => {
  const serving = { slot: "blue" as const, generation: "8", gitSha: "a", startedAt: 1 };

  it("an instance is done with a generation when it serves it with nothing left to drain, or failed it", () => {
    expect(doneWith({ serving }, "8")).toBe(true);
    expect(doneWith({ serving, draining: "green" }, "8")).toBe(false);
    expect(doneWith({ serving: { ...serving, generation: "7" } }, "8")).toBe(false);
    expect(
      doneWith(
        { serving: { ...serving, generation: "7" }, failed: { generation: "8", reason: "x", at: 1 } },
        "8",
      ),
    ).toBe(true);
    expect(doneWith({}, "8")).toBe(false);
  });

  it("instance-0 goes first; each other waits for the one before it", () => {
    expect([
      previousInstance("instance-0"),
      previousInstance("instance-1"),
      previousInstance("instance-12"),
    ]).toEqual([undefined, "instance-0", "instance-11"]);
  });
});

describe("retryReset (a Durable Object reset by a deploy)", () => {
  const reset = Object.assign(new Error("Durable Object reset because its code was updated."), {
    retryable: true,
  });
  const calls = (...outcomes: (Response | Error)[]) => {
    let made = 0;
    const call = async () => {
      const outcome = outcomes[made++];
      if (outcome instanceof Error) throw outcome;
      return outcome;
    };
    return { call, made: () => made };
  };

  it("sends a GET or HEAD once more when the call failed with a retryable reset", async () => {
    for (const method of ["GET", "HEAD"]) {
      const { call, made } = calls(reset, new Response("ok"));
      expect(await (await retryReset(new Request("http://x/", { method }), call)).text()).toBe("ok");
      expect(made()).toBe(2);
    }
  });

  it("never repeats a request with a body, nor a failure that is not retryable", async () => {
    const post = calls(reset, new Response("twice"));
    await expect(
      retryReset(new Request("http://x/", { method: "POST", body: "{}" }), post.call),
    ).rejects.toBe(reset);
    expect(post.made()).toBe(1);
    const fatal = new Error("boom");
    const get = calls(fatal, new Response("never"));
    await expect(retryReset(new Request("http://x/"), get.call)).rejects.toBe(fatal);
    expect(get.made()).toBe(1);
  });
});

describe("names and settings the Worker reads", () => {
  it("names the instances and their slots, and reads SPECTRAL_INSTANCES and the start timeout defensively", () => {
    expect(instanceNames(3)).toEqual(["instance-0", "instance-1", "instance-2"]);
    expect(slotName("instance-1", "green")).toBe("instance-1/green");
    expect([otherSlot("blue"), otherSlot("green"), otherSlot(undefined)]).toEqual(["green", "blue", "blue"]);
    expect([instanceCount("2"), instanceCount("0"), instanceCount("x"), instanceCount(undefined)]).toEqual([
      2, 1, 1, 1,
    ]);
    expect([startTimeoutMs("20"), startTimeoutMs("0"), startTimeoutMs(undefined)]).toEqual([
      20_000, 90_000, 90_000,
    ]);
  });
});
