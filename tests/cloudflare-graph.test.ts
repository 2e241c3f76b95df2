// The Cloudflare part of the resource graph under the mock runtime (fake Cloudflare API for the registry).
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../lib/config";
import { isSecretValue, isUnknownValue } from "../lib/plan/mock-runtime";
import { alphaConfig } from "./support/alpha";
import { devStackEnv, type RecordedRun, recordRun, registered } from "./support/record";

const TYPES = {
  image: "docker:index/image:Image",
  generation: "pulumi-nodejs:dynamic/spectral:DeploymentGeneration",
  script: "pulumi-nodejs:dynamic/spectral:WorkerScript",
  subdomain: "cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain",
  cron: "cloudflare:index/workersCronTrigger:WorkersCronTrigger",
  domain: "cloudflare:index/workersCustomDomain:WorkersCustomDomain",
  application: "pulumi-nodejs:dynamic/spectral:ContainerApplication",
  verification: "pulumi-nodejs:dynamic/spectral:DeployVerification",
  retention: "pulumi-nodejs:dynamic/spectral:ImageRetention",
};
const manifest = parseStackConfig(alphaConfig()).secrets;
const containerBindingNames = manifest
  .filter((entry) => entry.targets.includes("container"))
  .map((entry) => (entry.kind === "file" ? `SPECTRAL_FILE_${entry.name}` : entry.name));

const update = () => recordRun(devStackEnv());
// biome-ignore lint/suspicious/noExplicitAny: recorded inputs are JSON; each test asserts the shape it reads.
const inputs = (run: RecordedRun, type: string) => registered(run, type).inputs as Record<string, any>;
type Binding = { type: string; name: string; text?: string; className?: string };

describe("Cloudflare resources (update under mocks)", () => {
  let first: RecordedRun;
  let second: RecordedRun;
  beforeAll(() => {
    first = update();
    second = update();
  });

  it("uploads the Worker through the script upload, with every binding by name and type and no value in the list", () => {
    const script = inputs(first, TYPES.script);
    const bindings = script.bindings as Binding[];
    expect(bindings.slice(0, 6)).toEqual([
      { type: "durable_object_namespace", name: "SPECTRAL_APP", className: "SpectralApp" },
      { type: "plain_text", name: "SPECTRAL_SLEEP_AFTER", text: "10m" },
      { type: "plain_text", name: "SPECTRAL_INSTANCES", text: "1" },
      { type: "plain_text", name: "SPECTRAL_START_TIMEOUT_SECONDS", text: "90" },
      { type: "plain_text", name: "SPECTRAL_GENERATION", text: "1" },
      { type: "plain_text", name: "SPECTRAL_GIT_SHA", text: expect.stringMatching(/^[0-9a-f]{40}$/) },
    ]);
    const secrets = bindings.filter((binding) => binding.type === "secret_text");
    // Each with a keyed digest of its value: a rotation shows by name, the value never does.
    expect(secrets).toEqual(
      containerBindingNames.map((name) => ({
        type: "secret_text",
        name,
        digest: expect.stringMatching(/^[0-9a-f]{16}$/),
      })),
    );
    expect(bindings.at(-1)).toMatchObject({ type: "plain_text", name: "SPECTRAL_SECRET_MANIFEST" });
    expect(script).toMatchObject({
      containerClass: "SpectralApp",
      mainModule: "index.js",
      scriptName: "spectral-alpha",
    });
    expect(script.migrations).toEqual([{ tag: "v1", newSqliteClasses: ["SpectralApp"] }]);
  });

  it("gives each secret binding its own secret input, so a rotation names the binding and never shows the value", () => {
    const script = inputs(first, TYPES.script);
    const secretInputs = Object.keys(script).filter((key) => key.startsWith("secret_"));
    expect(secretInputs.sort()).toEqual(containerBindingNames.map((name) => `secret_${name}`).sort());
    for (const key of secretInputs) expect(script[key], key).toEqual({ secret: expect.any(String) });
    expect(JSON.stringify(script.bindings)).not.toContain("dev-");
  });

  it("turns the workers.dev subdomain on, wakes the Worker every minute, and makes no custom domain for alpha", () => {
    expect(inputs(first, TYPES.subdomain)).toEqual({
      accountId: "0000000000000000000000000000a1fa",
      scriptName: "spectral-alpha",
      enabled: true,
      previewsEnabled: false,
    });
    expect(inputs(first, TYPES.cron).schedules).toEqual([{ cron: "* * * * *" }]);
    // Made after the container application, as wrangler orders it; it moved out of the Worker component,
    // and the alias keeps the deployed trigger (no replace that would drop the schedule for a moment).
    const cron = registered(first, TYPES.cron);
    expect(cron.dependencies).toContain(registered(first, TYPES.application).urn);
    const worker = first.resources.find(
      (resource) => resource.type === "spectral:cloudflare:ContainerWorker",
    );
    expect(cron.aliases).toContain(`${worker?.urn}::app-worker-wake`);
    expect(first.resources.some((resource) => resource.type === TYPES.domain)).toBe(false);
    expect(first.outputs.url).toBe("https://spectral-alpha.spectral-test.workers.dev");
  });

  it("orders the deploy: image, generation, Worker upload, container application (rollout and wait), verification, pruning", () => {
    const digest = first.outputs.imageDigest;
    const urn = (type: string) => registered(first, type).urn;
    const dependsOn = (type: string) => registered(first, type).dependencies;
    expect(inputs(first, TYPES.generation).imageDigest).toBe(digest);
    expect(dependsOn(TYPES.script)).toContain(urn(TYPES.generation));
    // The application binds to the namespace the Worker's upload reports, and runs the pushed image. Both
    // values are the mocks' own (tests/support/record-run.ts): the wiring is what this proves; the engine suites
    // (tests/engine) prove the real namespace and serving generation.
    expect(inputs(first, TYPES.application)).toMatchObject({
      image: digest,
      namespaceId: "do-namespace-spectral-app",
      rolloutStepPercentages: [10, 100],
      rolloutGracePeriodSeconds: 30,
      rolloutTimeoutSeconds: 900,
    });
    for (const type of [TYPES.script, TYPES.image])
      expect(dependsOn(TYPES.application), type).toContain(urn(type));
    // The verdict comes last: after the Worker (routes included) and the application's rollout.
    expect(inputs(first, TYPES.verification)).toMatchObject({
      url: "https://spectral-alpha.spectral-test.workers.dev",
      generation: 1,
      image: digest,
      timeoutSeconds: 300,
    });
    for (const type of [TYPES.application, TYPES.script, TYPES.generation, TYPES.image, TYPES.subdomain])
      expect(dependsOn(TYPES.verification), type).toContain(urn(type));
    expect(first.outputs.servingGeneration).toBe(1); // the mock's verification echoes its input
    // Pruning runs only once the new image serves, and keeps the tag just pushed.
    expect(dependsOn(TYPES.retention)).toContain(urn(TYPES.verification));
    expect(inputs(first, TYPES.retention)).toMatchObject({
      accountId: "0000000000000000000000000000a1fa",
      repository: "spectral-alpha-app",
      tag: String(first.outputs.imageName).split(":").pop(),
      keep: 5,
    });
    expect(dependsOn(TYPES.subdomain)).toContain(urn(TYPES.script));
    expect(dependsOn(TYPES.cron)).toContain(urn(TYPES.application));
  });

  it("is stable: a second update on the same commit and secrets changes no Worker, route, generation or application input", () => {
    for (const type of [
      TYPES.script,
      TYPES.subdomain,
      TYPES.cron,
      TYPES.generation,
      TYPES.application,
      TYPES.verification,
    ]) {
      expect(inputs(second, type), type).toEqual(inputs(first, type));
    }
  });
});

describe("Cloudflare resources with a custom domain and workers.dev off (update under mocks)", () => {
  it("serves on the custom domain and turns the workers.dev subdomain off", () => {
    const stack = parseStackConfig(alphaConfig());
    expect(stack["cloudflare.customDomain"]).toBe("");
    const run = recordRun(
      devStackEnv({
        "spectral-infra:cloudflare.customDomain": "api.spectral.example",
        "spectral-infra:cloudflare.workersDev": "false",
      }),
    );
    expect(inputs(run, TYPES.domain)).toEqual({
      accountId: "0000000000000000000000000000a1fa",
      hostname: "api.spectral.example",
      service: "spectral-alpha",
    });
    expect(inputs(run, TYPES.subdomain).enabled).toBe(false);
    expect(run.outputs.url).toBe("https://api.spectral.example");
  });
});

describe("Cloudflare resources (preview under mocks)", () => {
  it("leaves what only an update can know unknown, and asks Cloudflare for nothing", () => {
    const preview = recordRun({ SPECTRAL_SECRET_SOURCE: "placeholder", RECORD_PREVIEW: "true" });
    expect(preview.cloudflareRequests).toEqual([]);
    const bindings = inputs(preview, TYPES.script).bindings as Binding[];
    expect(isUnknownValue(bindings.find((binding) => binding.name === "SPECTRAL_GENERATION")?.text)).toBe(
      true,
    );
    expect(isUnknownValue(inputs(preview, TYPES.application).namespaceId)).toBe(true);
    expect(isUnknownValue(inputs(preview, TYPES.verification).generation)).toBe(true);
    expect(isUnknownValue(preview.outputs.url)).toBe(true);
    expect(isSecretValue(preview.outputs.url)).toBe(false);
  });
});
