// The Cloudflare part of the resource graph under the mock runtime (fake Cloudflare API for the registry).
import { beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../lib/config";
import { isUnknownValue } from "../lib/plan/mock-runtime";
import { alphaConfig } from "./support/alpha";
import { type RecordedRun, recordRun, registered } from "./support/record";

const TYPES = {
  image: "docker:index/image:Image",
  generation: "pulumi-nodejs:dynamic/spectral:DeploymentGeneration",
  worker: "cloudflare:index/worker:Worker",
  version: "cloudflare:index/workerVersion:WorkerVersion",
  deployment: "cloudflare:index/workersDeployment:WorkersDeployment",
  migrations: "pulumi-nodejs:dynamic/spectral:DurableObjectMigrations",
  application: "pulumi-nodejs:dynamic/spectral:ContainerApplication",
  workerComponent: "spectral:cloudflare:ContainerWorker",
};
const manifest = parseStackConfig(alphaConfig()).secrets;

const update = () => recordRun({ SPECTRAL_SECRET_SOURCE: "placeholder" });
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

  it("binds the container class's Durable Object namespace, settings, generation and one secret_text per container secret", () => {
    const { secret: bindings } = inputs(first, TYPES.version).bindings as { secret: Binding[] };
    expect(bindings.slice(0, 3)).toEqual([
      { type: "durable_object_namespace", name: "SPECTRAL_APP", className: "SpectralApp" },
      { type: "plain_text", name: "SPECTRAL_SLEEP_AFTER", text: "10m" },
      { type: "plain_text", name: "SPECTRAL_GENERATION", text: "1" },
    ]);
    const secrets = bindings
      .filter((binding) => binding.type === "secret_text")
      .map((binding) => binding.name);
    const expected = manifest
      .filter((entry) => entry.targets.includes("container"))
      .map((entry) => (entry.kind === "file" ? `SPECTRAL_FILE_${entry.name}` : entry.name));
    expect(secrets).toEqual(expected);
    expect(
      bindings.filter((binding) => binding.type === "plain_text").map((binding) => binding.name),
    ).toContain("SPECTRAL_SECRET_MANIFEST");
  });

  it("declares the container class and carries the SQLite migration for a Worker that has none", () => {
    const version = inputs(first, TYPES.version);
    expect(version.containers).toEqual([{ className: "SpectralApp" }]);
    expect(version.migrations).toEqual({ newTag: "v1", steps: [{ newSqliteClasses: ["SpectralApp"] }] });
    expect(version.mainModule).toBe("index.js");
    expect(version.modules[0]).toMatchObject({
      name: "index.js",
      contentType: "application/javascript+module",
    });
    expect(inputs(first, TYPES.migrations).history).toEqual([
      { tag: "v1", newSqliteClasses: ["SpectralApp"] },
    ]);
  });

  it("orders the deploy: image, then generation, then Worker version, then deployment, then container rollout", () => {
    const digest = first.outputs.imageDigest;
    expect(inputs(first, TYPES.generation).imageDigest).toBe(digest);
    expect(inputs(first, TYPES.deployment)).toMatchObject({
      strategy: "percentage",
      versions: [{ percentage: 100, versionId: "app-worker-version-id" }],
    });
    const application = inputs(first, TYPES.application);
    expect(application).toMatchObject({ image: digest, generation: 1, rolloutStepPercentages: [10, 100] });
    // The application waits for the whole Worker component: version and deployment included.
    const dependencies = registered(first, TYPES.application).dependencies;
    for (const type of [TYPES.version, TYPES.deployment, TYPES.generation, TYPES.image])
      expect(dependencies, type).toContain(registered(first, type).urn);
    expect(registered(first, TYPES.version).dependencies).toContain(registered(first, TYPES.generation).urn);
  });

  it("is stable: a second update on the same commit and secrets changes no Worker, version, deployment, generation or application input", () => {
    for (const type of [
      TYPES.worker,
      TYPES.version,
      TYPES.deployment,
      TYPES.migrations,
      TYPES.generation,
      TYPES.application,
    ]) {
      expect(inputs(second, type), type).toEqual(inputs(first, type));
    }
  });
});

describe("Cloudflare resources (preview under mocks)", () => {
  it("leaves what only an update can know unknown, and asks Cloudflare for nothing", () => {
    const preview = recordRun({ SPECTRAL_SECRET_SOURCE: "placeholder", RECORD_PREVIEW: "true" });
    expect(preview.cloudflareRequests).toEqual([]);
    expect(isUnknownValue(inputs(preview, TYPES.version).migrations)).toBe(true);
    expect(isUnknownValue(inputs(preview, TYPES.application).generation)).toBe(true);
    expect(isUnknownValue(preview.outputs.workerVersionId)).toBe(true);
  });
});
