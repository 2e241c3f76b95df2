// ContainerApplication's provider against a contract-faithful local Cloudflare API (fake-cloudflare.ts).
import { readFileSync } from "node:fs";
import type { ApplicationCreateParams } from "cloudflare/resources/containers/applications/applications";
import type { RolloutCreateParams } from "cloudflare/resources/containers/applications/rollouts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ContainerApplicationInputs,
  type ContainerApplicationOutputs,
  containerApplicationProvider as provider,
} from "../components/container-application-provider";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "./support/fake-cloudflare";
import { callSerialized, serializeProvider } from "./support/serialized-provider";

const ACCOUNT = "0000000000000000000000000000a1fa";
const NAMESPACE = "do-namespace-spectral-app";
const IMAGE = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"1".repeat(64)}`;
const NEW_IMAGE = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"2".repeat(64)}`;
const inputs: ContainerApplicationInputs = {
  accountId: ACCOUNT,
  name: "spectral-alpha-app",
  image: IMAGE,
  instanceType: "standard-1",
  maxInstances: 3,
  workerName: "spectral-alpha",
  className: "SpectralApp",
  rolloutStepPercentages: [10, 100],
  generation: 41,
};

let fake: FakeCloudflare;
const saved = { token: process.env.CLOUDFLARE_API_TOKEN, base: process.env.CLOUDFLARE_API_BASE_URL };
beforeAll(async () => {
  fake = await startFakeCloudflare();
  process.env.CLOUDFLARE_API_TOKEN = FAKE_TOKEN;
  process.env.CLOUDFLARE_API_BASE_URL = fake.baseUrl;
});
afterAll(async () => {
  await fake.close();
  process.env.CLOUDFLARE_API_TOKEN = saved.token;
  process.env.CLOUDFLARE_API_BASE_URL = saved.base;
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.rollouts.length = 0;
  fake.applications.clear();
  fake.namespaces.splice(0, fake.namespaces.length, {
    id: NAMESPACE,
    name: "spectral-alpha_SpectralApp",
    script: "spectral-alpha",
    class: "SpectralApp",
    use_sqlite: true,
  });
});

/** An application of our name made outside this program, e.g. by an earlier wrangler deploy. */
function existingApplication(id: string, namespaceId: string): void {
  fake.applications.set(id, {
    id,
    name: inputs.name,
    scheduling_policy: "default",
    instances: 0,
    max_instances: 1,
    configuration: { image: "registry.cloudflare.com/old@sha256:0", instance_type: "basic" },
    durable_objects: { namespace_id: namespaceId },
    version: 3,
  });
}

const writes = () => fake.requests.filter((request) => request.method !== "GET");
const create = () => provider.create(inputs) as Promise<{ id: string; outs: ContainerApplicationOutputs }>;
async function update(olds: ContainerApplicationOutputs, changes: Partial<ContainerApplicationInputs>) {
  fake.requests.length = 0;
  const result = (await provider.update?.(olds.applicationId, olds, { ...inputs, ...changes })) as {
    outs: ContainerApplicationOutputs;
  };
  return result.outs;
}

// Bodies the SDK's own types accept, minus the path parameter.
const expectedCreate: Omit<
  ApplicationCreateParams.CcContainersCreateScheduledApplicationRequest,
  "account_id"
> = {
  name: "spectral-alpha-app",
  scheduling_policy: "default",
  instances: 0,
  max_instances: 3,
  configuration: { image: IMAGE, instance_type: "standard-1", observability: { logs: { enabled: true } } },
  durable_objects: { namespace_id: NAMESPACE },
};
const expectedRollout = (image: string, generation: number): Omit<RolloutCreateParams, "account_id"> => ({
  description: `generation ${generation}: ${image}`,
  strategy: "rolling",
  kind: "full_auto",
  steps: [
    { description: "10% of instances", step_size: { percentage: 10 } },
    { description: "100% of instances", step_size: { percentage: 100 } },
  ],
  target_configuration: { image, instance_type: "standard-1", observability: { logs: { enabled: true } } },
});

describe("ContainerApplication provider (fake Cloudflare API)", () => {
  it("creates the application bound to the Worker's Durable Object namespace, with logs on", async () => {
    const { id, outs } = await create();
    expect(writes()).toEqual([
      {
        method: "POST",
        path: `/client/v4/accounts/${ACCOUNT}/containers/applications`,
        body: expectedCreate,
      },
    ]);
    expect(outs).toMatchObject({
      applicationId: id,
      namespaceId: NAMESPACE,
      adopted: false,
      rolloutId: null,
    });
  });

  it("on a new image, PATCHes nothing it need not and rolls out the new image in the configured steps", async () => {
    const { outs } = await create();
    const updated = await update(outs, { image: NEW_IMAGE, generation: 42 });
    expect(writes()).toEqual([
      {
        method: "POST",
        path: `/client/v4/accounts/${ACCOUNT}/containers/applications/${outs.applicationId}/rollouts`,
        body: expectedRollout(NEW_IMAGE, 42),
      },
    ]);
    expect(updated.rolloutId).toBe("rollout-1");
    expect(fake.applications.get(outs.applicationId)?.configuration.image).toBe(NEW_IMAGE);
  });

  it("on a new generation alone (a rotated secret), rolls out so running containers restart", async () => {
    const { outs } = await create();
    await update(outs, { generation: 42 });
    expect(fake.rollouts.map((rollout) => rollout.body)).toEqual([expectedRollout(IMAGE, 42)]);
  });

  it("on a settings-only change, PATCHes max_instances and starts no rollout", async () => {
    const { outs } = await create();
    const updated = await update(outs, { maxInstances: 5 });
    expect(writes()).toEqual([
      {
        method: "PATCH",
        path: `/client/v4/accounts/${ACCOUNT}/containers/applications/${outs.applicationId}`,
        body: { max_instances: 5 },
      },
    ]);
    expect(updated.maxInstances).toBe(5);
    expect(fake.rollouts).toEqual([]);
  });

  it("adopts an application of the same name on the same namespace (an earlier wrangler deploy)", async () => {
    existingApplication("app-from-wrangler", NAMESPACE);
    const { id, outs } = await create();
    expect(id).toBe("app-from-wrangler");
    expect(outs.adopted).toBe(true);
    expect(writes().map((request) => `${request.method} ${request.path.split("/applications")[1]}`)).toEqual([
      "PATCH /app-from-wrangler",
      "POST /app-from-wrangler/rollouts",
    ]);
    expect(fake.applications.get(id)?.configuration).toMatchObject({
      image: IMAGE,
      instance_type: "standard-1",
    });
  });

  it("refuses to adopt an application bound to another namespace, naming both", async () => {
    existingApplication("app-elsewhere", "do-namespace-of-another-worker");
    await expect(create()).rejects.toThrow(
      `application spectral-alpha-app already exists and serves Durable Object namespace do-namespace-of-another-worker, not ${NAMESPACE} (Worker spectral-alpha, class SpectralApp): choose another cloudflare.containerName`,
    );
    expect(writes()).toEqual([]);
  });

  it("follows result_info to a namespace on the second page of the list (20 a page)", async () => {
    const ours = fake.namespaces.splice(0);
    for (let i = 0; i < 24; i++)
      fake.namespaces.push({ ...ours[0], id: `other-${i}`, script: `other-worker-${i}`, name: `other-${i}` });
    fake.namespaces.push(...ours);
    const { outs } = await create();
    expect(outs.namespaceId).toBe(NAMESPACE);
    const pages = fake.requests.filter((request) => request.path.endsWith("/durable_objects/namespaces"));
    expect(pages.length).toBeGreaterThanOrEqual(2);
  });

  it("says the Worker must be deployed first when its namespace does not exist yet", async () => {
    fake.namespaces.length = 0;
    await expect(create()).rejects.toThrow(
      "Worker spectral-alpha has no Durable Object namespace for class SpectralApp: its version must be deployed before application spectral-alpha-app",
    );
  });

  it("surfaces Cloudflare's status, code and message, and never the token", async () => {
    const { outs } = await create();
    fake.failNext = {
      method: "POST",
      pathPattern: /\/rollouts$/,
      status: 400,
      code: 1234,
      message: "image not found in registry",
    };
    const failure = update(outs, { image: NEW_IMAGE, generation: 42 });
    await expect(failure).rejects.toThrow(
      "Cloudflare API 400 [code 1234: image not found in registry] while updating application spectral-alpha-app",
    );
    await expect(failure).rejects.not.toThrow(FAKE_TOKEN);
  });

  it("names CLOUDFLARE_API_TOKEN when it is missing", async () => {
    process.env.CLOUDFLARE_API_TOKEN = "";
    try {
      await expect(create()).rejects.toThrow("CLOUDFLARE_API_TOKEN is not set");
    } finally {
      process.env.CLOUDFLARE_API_TOKEN = FAKE_TOKEN;
    }
  });

  it("deletes the application, and treats one already gone as deleted", async () => {
    const { outs } = await create();
    await provider.delete?.(outs.applicationId, outs);
    expect(fake.applications.size).toBe(0);
    await expect(provider.delete?.(outs.applicationId, outs)).resolves.toBeUndefined();
  });

  it("diffs: identical inputs change nothing; a new name replaces; a new image updates in place", async () => {
    const { outs } = await create();
    expect(await provider.diff?.(outs.applicationId, outs, inputs)).toMatchObject({
      changes: false,
      replaces: [],
    });
    expect(await provider.diff?.(outs.applicationId, outs, { ...inputs, name: "other" })).toMatchObject({
      changes: true,
      replaces: ["name"],
    });
    expect(await provider.diff?.(outs.applicationId, outs, { ...inputs, image: NEW_IMAGE })).toMatchObject({
      changes: true,
      replaces: [],
    });
  });

  it("works as the engine runs it: serialized, in a fresh process, with only the environment for credentials", async () => {
    const file = await serializeProvider(provider);
    const env = { CLOUDFLARE_API_TOKEN: FAKE_TOKEN, CLOUDFLARE_API_BASE_URL: fake.baseUrl };
    const created = await callSerialized(file, "create", [inputs], env);
    expect(created.error).toBe("");
    expect(created.value.outs).toMatchObject({ namespaceId: NAMESPACE, adopted: false });
    expect(readFileSync(file, "utf8")).not.toContain(FAKE_TOKEN);
  });
});
