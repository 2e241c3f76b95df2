// The Worker's own code: the env-to-container mapping (pure) and the deterministic bundle.
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../lib/config";
import { workerSecretBindings } from "../lib/secrets/bindings";
import { bundleWorker } from "../lib/worker/bundle";
import { ContainerEnvError, containerEnvVars } from "../worker/src/container-env";
import { cutoverAction, IMAGE_RETRY_MS, instanceCount, instanceNames } from "../worker/src/cutover";
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

describe("cutoverAction (when an object (re)starts its container)", () => {
  const wanted = { generation: "8", gitSha: "bbbb" };
  const now = 1_000_000;

  it("starts a container that is not running", () => {
    expect(cutoverAction(wanted, false, undefined, now)).toBe("start");
    expect(cutoverAction(wanted, false, { ...wanted, startedAt: now }, now)).toBe("start");
  });

  it("serves a container started for this generation and image", () => {
    expect(cutoverAction(wanted, true, { ...wanted, startedAt: now - 5 }, now)).toBe("serve");
  });

  it("restarts at once a container started for another generation, or for an unknown one", () => {
    expect(cutoverAction(wanted, true, { generation: "7", gitSha: "bbbb", startedAt: now }, now)).toBe(
      "restart",
    );
    expect(cutoverAction(wanted, true, undefined, now)).toBe("restart");
  });

  it("restarts a container still serving an older image at most once a minute, until the rollout reaches it", () => {
    const old = { generation: "8", gitSha: "aaaa" };
    expect(cutoverAction(wanted, true, { ...old, startedAt: now - 1_000 }, now)).toBe("serve");
    expect(cutoverAction(wanted, true, { ...old, startedAt: now - IMAGE_RETRY_MS }, now)).toBe("restart");
  });

  it("names the instances as getRandom does, and reads SPECTRAL_INSTANCES defensively", () => {
    expect(instanceNames(3)).toEqual(["instance-0", "instance-1", "instance-2"]);
    expect([instanceCount("2"), instanceCount("0"), instanceCount("x"), instanceCount(undefined)]).toEqual([
      2, 1, 1, 1,
    ]);
  });
});
