// ContainerApplication's provider against the Cloudflare API stand-in's Containers area
// (tests/support/fake-cloudflare-containers.ts): each rule the stand-in enforces, and the program meeting it.
import { readFileSync } from "node:fs";
import { forgetDeclaredObjects, UNKNOWN } from "@spectral/provider-support";
import Cloudflare from "cloudflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type ContainerApplicationInputs,
  type ContainerApplicationOutputs,
  containerApplicationProvider as provider,
} from "../components/container-application-provider";
import { FAKE_TOKEN, type FakeCloudflare, lostAnswer, startFakeCloudflare } from "./support/fake-cloudflare";
import { replaceActiveRollout } from "./support/fake-cloudflare-containers";
import { callSerialized, serializeProvider } from "./support/serialized-provider";

const ACCOUNT = "0000000000000000000000000000a1fa";
const NAMESPACE = "do-namespace-spectral-app";
const IMAGE = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"1".repeat(64)}`;
const NEW_IMAGE = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"2".repeat(64)}`;
const BROKEN_IMAGE = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"3".repeat(64)}`;
const inputs: ContainerApplicationInputs = {
  accountId: ACCOUNT,
  name: "spectral-alpha-app",
  namespaceId: NAMESPACE,
  namespaceOwner: "spectral-alpha/SpectralApp",
  image: IMAGE,
  instanceType: "standard-1",
  maxInstances: 3,
  rolloutStepPercentages: [10, 100],
  rolloutGracePeriodSeconds: 30,
  rolloutTimeoutSeconds: 60,
};

let fake: FakeCloudflare;
const saved = { ...process.env };
beforeAll(async () => {
  fake = await startFakeCloudflare();
  Object.assign(process.env, {
    CLOUDFLARE_API_TOKEN: FAKE_TOKEN,
    CLOUDFLARE_API_BASE_URL: fake.baseUrl,
    SPECTRAL_ROLLOUT_POLL_MS: "1",
  });
});
afterAll(async () => {
  await fake.close();
  process.env = saved;
});
beforeEach(() => {
  // Each test is a run of its own: one provider host serves one run.
  forgetDeclaredObjects();
  fake.rolloutPhaseMs = 20;
  fake.requests.length = 0;
  fake.rollouts.length = 0;
  fake.applications.clear();
  fake.applicationsPerPage = 20;
  fake.registryImages = new Set([IMAGE, NEW_IMAGE, BROKEN_IMAGE]);
  fake.unpullableImages = new Set([BROKEN_IMAGE]);
  // The Worker's upload made the namespace and declared its class a container.
  fake.scripts.set("spectral-alpha", { containers: [{ class_name: "SpectralApp" }] });
  fake.namespaces.splice(0, fake.namespaces.length, {
    id: NAMESPACE,
    name: "spectral-alpha_SpectralApp",
    script: "spectral-alpha",
    class: "SpectralApp",
    use_sqlite: true,
  });
});

/** An application made outside this program, e.g. by an earlier `wrangler deploy`. */
function existingApplication(id: string, name: string, namespaceId: string, image = IMAGE): void {
  fake.applications.set(id, {
    id,
    name,
    scheduling_policy: "default",
    instances: 0,
    max_instances: 1,
    configuration: { image, instance_type: "standard-1" },
    durable_objects: { namespace_id: namespaceId },
    version: 3,
    health: { instances: { active: 1, healthy: 1, failed: 0, starting: 0 } },
  });
}

const writes = () => fake.requests.filter((request) => request.method !== "GET");
const create = (changes: Partial<ContainerApplicationInputs> = {}) =>
  provider.create({ ...inputs, ...changes }) as Promise<{ id: string; outs: ContainerApplicationOutputs }>;
async function update(olds: ContainerApplicationOutputs, changes: Partial<ContainerApplicationInputs>) {
  fake.requests.length = 0;
  const result = (await provider.update?.(olds.applicationId, olds, { ...inputs, ...changes })) as {
    outs: ContainerApplicationOutputs;
  };
  return result.outs;
}

describe("ContainerApplication provider (Cloudflare API stand-in)", () => {
  it("creates the application on the Worker's namespace, with the grace period, logs on top-level, wrangler's placement tiers, and no rollout", async () => {
    const { outs } = await create();
    expect(writes().map((request) => request.body)).toEqual([
      {
        name: "spectral-alpha-app",
        scheduling_policy: "default",
        instances: 0,
        max_instances: 3,
        rollout_active_grace_period: 30,
        observability: { logs: { enabled: true } },
        constraints: { tiers: [1, 2] },
        configuration: { image: IMAGE, instance_type: "standard-1" },
        durable_objects: { namespace_id: NAMESPACE },
      },
    ]);
    expect(fake.applications.get(outs.applicationId)).toMatchObject({
      observability: { logs: { enabled: true } },
      constraints: { tiers: [1, 2] },
    });
    expect(outs).toMatchObject({ rolloutId: null, adopted: false });
  });

  it("adopts the application bound to the namespace whatever its name (wrangler's <worker>-<class>), and rolls out only a different image", async () => {
    existingApplication("app-wrangler", "spectral-alpha-spectralapp", NAMESPACE);
    const { id, outs } = await create();
    expect(id).toBe("app-wrangler");
    expect(writes().map((request) => [request.method, request.body])).toEqual([
      [
        "PATCH",
        {
          name: "spectral-alpha-app",
          max_instances: 3,
          rollout_active_grace_period: 30,
          observability: { logs: { enabled: true } },
          constraints: { tiers: [1, 2] },
        },
      ],
    ]);
    expect(outs).toMatchObject({ adopted: true, rolloutId: null });
    fake.applications.clear();
    existingApplication("app-wrangler", "spectral-alpha-spectralapp", NAMESPACE, NEW_IMAGE);
    fake.requests.length = 0;
    const adopted = await create();
    expect(adopted.outs.rolloutId).toBe("rollout-1");
    expect(fake.rollouts[0].status).toBe("completed");
  });

  it("refuses an application of our name bound to another namespace, naming both", async () => {
    existingApplication("app-other", "spectral-alpha-app", "some-other-namespace");
    await expect(create()).rejects.toThrow(
      "application spectral-alpha-app already exists and serves Durable Object namespace some-other-namespace, not do-namespace-spectral-app",
    );
    expect(writes()).toEqual([]);
  });

  it("on a new image, rolls out in the configured steps and waits until Cloudflare reports it completed", async () => {
    const { outs } = await create();
    const updated = await update(outs, { image: NEW_IMAGE });
    const [rollout] = writes().filter((request) => request.path.endsWith("/rollouts"));
    expect(rollout.body).toMatchObject({
      strategy: "rolling",
      kind: "full_auto",
      steps: [
        { description: "10% of instances", step_size: { percentage: 10 } },
        { description: "100% of instances", step_size: { percentage: 100 } },
      ],
      target_configuration: { image: NEW_IMAGE, instance_type: "standard-1" },
    });
    expect(fake.rollouts.map((each) => each.status)).toEqual(["completed"]);
    expect(updated.rolloutId).toBe("rollout-1");
  });

  it("on a settings-only change, PATCHes what changed and starts no rollout; with nothing changed, writes nothing", async () => {
    const { outs } = await create();
    await update(outs, { maxInstances: 5 });
    expect(writes().map((request) => request.body)).toEqual([{ max_instances: 5 }]);
    await update(outs, { maxInstances: 5 });
    expect(writes()).toEqual([]);
  });

  it("fails on a rollout Cloudflare reverts, with its reason and the instances' health", async () => {
    const { outs } = await create();
    await expect(update(outs, { image: BROKEN_IMAGE })).rejects.toThrow(
      /was reverted: failed to pull image .*sha256:3{64}: manifest unknown; instances' health: \{"instances":\{"active":1,"healthy":0,"failed":1,"starting":0\}\}/,
    );
  });

  it("fails when a rollout outlasts cloudflare.rolloutTimeoutSeconds, saying where it stands", async () => {
    const { outs } = await create();
    await expect(update(outs, { image: NEW_IMAGE, rolloutTimeoutSeconds: 0 })).rejects.toThrow(
      /is still (pending|progressing) after 0s \(cloudflare.rolloutTimeoutSeconds\)/,
    );
  });

  it("finds a create whose answer was lost instead of creating a second application", async () => {
    fake.failNext = lostAnswer("POST", /containers\/applications$/);
    const { outs } = await create();
    expect(fake.applications.size).toBe(1);
    expect(outs.applicationId).toBe([...fake.applications.keys()][0]);
  });

  it("finds a rollout whose answer was lost instead of starting a second one", async () => {
    const { outs } = await create();
    fake.failNext = lostAnswer("POST", /\/rollouts$/);
    const updated = await update(outs, { image: NEW_IMAGE });
    expect(fake.rollouts).toHaveLength(1);
    expect(updated.rolloutId).toBe("rollout-1");
  });

  it("never takes an earlier rollout of the same image for a lost one: image 2, then 1, then 2 with the POST failing", async () => {
    const { outs } = await create();
    const two = await update(outs, { image: NEW_IMAGE });
    const one = await update(two, { image: IMAGE });
    expect(fake.rollouts.map((rollout) => rollout.status)).toEqual(["completed", "completed"]);
    // The POST fails before Cloudflare carries it out: no rollout starts, and none may be claimed.
    fake.failNext = {
      method: "POST",
      pathPattern: /\/rollouts$/,
      status: 500,
      code: 10013,
      message: "internal error",
    };
    await expect(update(one, { image: NEW_IMAGE })).rejects.toThrow(
      /ContainerApplication spectral-alpha-app: starting a rollout of \S+2{64} failed: the Cloudflare API at 127\.0\.0\.1:\d+ answered 500 \(code 10013: internal error\); Cloudflare may have started it/,
    );
    expect(fake.rollouts).toHaveLength(2);
    expect(fake.applications.get(outs.applicationId)?.configuration).toMatchObject({ image: IMAGE });
  });

  it("resumes an active rollout to the same image and instance type instead of starting a second one", async () => {
    const { outs } = await create();
    // An earlier run started this rollout and its wait failed: it is still pending at Cloudflare (its clock
    // stands still until the next run looks, however slow this machine is).
    fake.rolloutPhaseMs = 3_600_000;
    fake.failNext = {
      method: "GET",
      pathPattern: /\/rollouts\/[^/]+$/,
      status: 403,
      code: 10000,
      message: "no",
    };
    await expect(update(outs, { image: NEW_IMAGE })).rejects.toThrow(
      /watching rollout rollout-1 failed: .* Rollout rollout-1 goes on at Cloudflare: the next pulumi up watches it again instead of starting another\./,
    );
    // It moves on from now: pending when the next run lists it, completed 2 × 300 ms later.
    fake.rolloutPhaseMs = 300;
    fake.rollouts[0].startedAt = Date.now();
    const resumed = await update(outs, { image: NEW_IMAGE });
    expect(resumed.rolloutId).toBe("rollout-1");
    expect(fake.rollouts).toHaveLength(1);
    expect(fake.rollouts[0].status).toBe("completed");
    // A different target is not resumed: it gets its own rollout.
    expect((await update(resumed, { image: IMAGE })).rolloutId).toBe("rollout-2");
  });

  it("follows result_info.next_page_token to an application on the third page", async () => {
    fake.applicationsPerPage = 1;
    existingApplication("app-a", "a", "ns-a");
    existingApplication("app-b", "b", "ns-b");
    existingApplication("app-ours", "spectral-alpha-spectralapp", NAMESPACE);
    const { id } = await create();
    expect(id).toBe("app-ours");
    expect(fake.requests.filter((request) => request.path.endsWith("/containers/applications")).length).toBe(
      3,
    );
  });

  it("surfaces the containers API's nested error: a class that is not a container, an image not in the registry", async () => {
    fake.scripts.set("spectral-alpha", { containers: [] });
    await expect(create()).rejects.toThrow(
      `ContainerApplication spectral-alpha-app: creating the application failed: the Cloudflare API at ${new URL(fake.baseUrl).host} answered 400 (DURABLE_OBJECT_NOT_CONTAINER_ENABLED {"namespace_id":"${NAMESPACE}"}). Fix what the answer names, then run pulumi up again.`,
    );
    fake.scripts.set("spectral-alpha", { containers: [{ class_name: "SpectralApp" }] });
    const unknown = `registry.cloudflare.com/${ACCOUNT}/spectral-alpha-app@sha256:${"9".repeat(64)}`;
    await expect(create({ image: unknown })).rejects.toThrow(
      `IMAGE_REGISTRY_DOESNT_CONTAIN_IMAGE {"image":"${unknown}"}`,
    );
  });

  it("names CLOUDFLARE_API_TOKEN when it is missing, and never shows the token", async () => {
    process.env.CLOUDFLARE_API_TOKEN = "";
    try {
      await expect(create()).rejects.toThrow("CLOUDFLARE_API_TOKEN is not set");
    } finally {
      process.env.CLOUDFLARE_API_TOKEN = FAKE_TOKEN;
    }
  });

  it("deletes the application, and treats one already gone as deleted", async () => {
    const { outs } = await create();
    forgetDeclaredObjects(); // a destroy is a run of its own
    await provider.delete?.(outs.applicationId, outs);
    expect(fake.applications.size).toBe(0);
    await expect(provider.delete?.(outs.applicationId, outs)).resolves.toBeUndefined();
  });

  it("diffs: identical inputs change nothing; a new namespace or owner replaces; a new image or name updates in place", async () => {
    const { outs } = await create();
    expect(await provider.diff?.(outs.applicationId, outs, inputs)).toMatchObject({
      changes: false,
      replaces: [],
    });
    for (const change of [{ namespaceId: "ns-2" }, { namespaceOwner: "spectral-beta/SpectralApp" }])
      expect(await provider.diff?.(outs.applicationId, outs, { ...inputs, ...change })).toMatchObject({
        changes: true,
        replaces: Object.keys(change),
      });
    for (const change of [{ image: NEW_IMAGE }, { name: "renamed" }])
      expect(await provider.diff?.(outs.applicationId, outs, { ...inputs, ...change })).toMatchObject({
        changes: true,
        replaces: [],
      });
  });

  it("diffs: this file's code (__provider) and callLimits are not what is deployed; an unknown namespace (a preview) replaces nothing by itself", async () => {
    const { outs } = await create();
    const olds = { ...outs, __provider: "exports.handler = /* old comment */ 1" };
    const news = {
      ...inputs,
      __provider: "exports.handler = /* new comment */ 1",
      callLimits: { requestTimeoutSeconds: 5, retryBudgetSeconds: 5 },
    };
    expect(await provider.diff?.(outs.applicationId, olds, news)).toMatchObject({
      changes: false,
      replaces: [],
    });
    expect(
      await provider.diff?.(outs.applicationId, outs, { ...inputs, namespaceId: UNKNOWN }),
    ).toMatchObject({
      changes: false,
      replaces: [],
    });
  });

  it("diffs: state an older provider wrote (no stateVersion, no namespaceOwner) is rewritten by one update that writes nothing to Cloudflare", async () => {
    const { outs } = await create();
    const { stateVersion: _version, namespaceOwner: _owner, ...older } = outs;
    expect(
      await provider.diff?.(outs.applicationId, older as ContainerApplicationOutputs, inputs),
    ).toMatchObject({
      changes: true,
      replaces: [],
    });
    const updated = await update(older as ContainerApplicationOutputs, {});
    expect(writes()).toEqual([]);
    expect(updated).toMatchObject({ stateVersion: 2, namespaceOwner: inputs.namespaceOwner });
  });

  it("reads drift made outside the program (refresh): name, image, instance type, max instances, grace period, namespace", async () => {
    const { outs } = await create();
    Object.assign(fake.applications.get(outs.applicationId) ?? {}, {
      name: "renamed-in-dashboard",
      max_instances: 9,
      rollout_active_grace_period: 0,
      configuration: { image: NEW_IMAGE, instance_type: "basic" },
    });
    const read = await provider.read?.(outs.applicationId, outs);
    expect(read).toMatchObject({
      id: outs.applicationId,
      props: {
        name: "renamed-in-dashboard",
        maxInstances: 9,
        rolloutGracePeriodSeconds: 0,
        image: NEW_IMAGE,
        instanceType: "basic",
        namespaceId: NAMESPACE,
      },
    });
    // The next up puts the declared state back: a PATCH and a rollout to the declared image.
    const restored = await update(read?.props as ContainerApplicationOutputs, {});
    expect(writes().map((request) => request.method)).toEqual(["PATCH", "POST"]);
    expect(fake.applications.get(outs.applicationId)).toMatchObject({
      name: "spectral-alpha-app",
      max_instances: 3,
      configuration: { image: IMAGE, instance_type: "standard-1" },
    });
    expect(restored.rolloutId).toBe("rollout-1");
  });

  it("reads an application deleted outside the program as gone (empty id); an update that finds it gone creates it again", async () => {
    const { outs } = await create();
    fake.applications.clear();
    expect(await provider.read?.(outs.applicationId, outs)).toMatchObject({ id: "" });
    const recreated = await update(outs, {});
    expect(fake.applications.size).toBe(1);
    expect(recreated.applicationId).not.toBe(outs.applicationId);
    expect([...fake.applications.keys()]).toEqual([recreated.applicationId]);
    // Later calls use the new application, whatever id the engine kept.
    forgetDeclaredObjects();
    await provider.delete?.(outs.applicationId, recreated);
    expect(fake.applications.size).toBe(0);
  });

  it("leaves an application that a resource of the running program now holds (a rename without an alias), and deletes one nobody holds", async () => {
    const { outs } = await create();
    // The renamed resource's create adopts the same application, then the engine deletes the old URN.
    forgetDeclaredObjects();
    await create();
    await provider.delete?.(outs.applicationId, outs);
    expect(fake.applications.size).toBe(1);
    forgetDeclaredObjects();
    await provider.delete?.(outs.applicationId, outs);
    expect(fake.applications.size).toBe(0);
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

describe("the stand-in's Containers rules, met head-on", () => {
  const sdk = () => new Cloudflare({ apiToken: FAKE_TOKEN, baseURL: fake.baseUrl, maxRetries: 0 });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => "accepted",
      (error: { errors: { message: string }[] }) => JSON.parse(error.errors[0].message).error,
    );

  it("one application per namespace (DURABLE_OBJECT_ALREADY_HAS_APPLICATION)", async () => {
    existingApplication("app-1", "first", NAMESPACE);
    const body = {
      name: "second",
      scheduling_policy: "default",
      instances: 0,
      max_instances: 1,
      configuration: { image: IMAGE },
      durable_objects: { namespace_id: NAMESPACE },
    };
    expect(await refusal(sdk().post(`/accounts/${ACCOUNT}/containers/applications`, { body }))).toBe(
      "DURABLE_OBJECT_ALREADY_HAS_APPLICATION",
    );
  });

  it("rollout steps of at least 10 percent", async () => {
    existingApplication("app-1", "first", NAMESPACE);
    const body = {
      description: "d",
      strategy: "rolling",
      steps: [
        { description: "5%", step_size: { percentage: 5 } },
        { description: "all", step_size: { percentage: 100 } },
      ],
      target_configuration: { image: NEW_IMAGE },
    };
    expect(
      await refusal(sdk().post(`/accounts/${ACCOUNT}/containers/applications/app-1/rollouts`, { body })),
    ).toBe("VALIDATE_INPUT");
  });

  it("PATCH values of the wrong type (containers-shared ModifyApplicationRequestBody)", async () => {
    existingApplication("app-1", "first", NAMESPACE);
    const patch = (body: Record<string, unknown>) =>
      refusal(sdk().patch(`/accounts/${ACCOUNT}/containers/applications/app-1`, { body }));
    expect(await patch({ max_instances: "3" })).toBe("VALIDATE_INPUT");
    expect(await patch({ rollout_active_grace_period: -1 })).toBe("VALIDATE_INPUT");
    expect(await patch({ max_instances: 3 })).toBe("accepted");
  });

  it("PATCH takes what wrangler sends (configuration, scheduling_policy, top-level observability), but not configuration.observability (workers-sdk #13315) nor a new scheduling policy", async () => {
    existingApplication("app-1", "first", NAMESPACE);
    const patch = (body: Record<string, unknown>) =>
      refusal(sdk().patch(`/accounts/${ACCOUNT}/containers/applications/app-1`, { body }));
    expect(await patch({ configuration: { image: IMAGE, observability: { logs: { enabled: true } } } })).toBe(
      "VALIDATE_INPUT",
    );
    expect(await patch({ scheduling_policy: "durable_object" })).toBe("VALIDATE_INPUT");
    expect(
      await patch({
        configuration: { image: NEW_IMAGE, instance_type: "standard-1" },
        observability: { logs: { enabled: true } },
        max_instances: 3,
        constraints: { tiers: [1, 2] },
        scheduling_policy: "default",
        rollout_active_grace_period: 0,
      }),
    ).toBe("accepted");
    expect(fake.applications.get("app-1")).toMatchObject({
      configuration: { image: NEW_IMAGE },
      observability: { logs: { enabled: true } },
      constraints: { tiers: [1, 2] },
    });
  });

  it("a rollout moves on with time, watched or not, and a reverted one gives its step's reason", async () => {
    existingApplication("app-1", "first", NAMESPACE);
    const body = {
      description: "d",
      strategy: "rolling",
      steps: [{ description: "all", step_size: { percentage: 100 } }],
      target_configuration: { image: BROKEN_IMAGE },
    };
    await sdk().post(`/accounts/${ACCOUNT}/containers/applications/app-1/rollouts`, { body });
    await new Promise((resolve) => setTimeout(resolve, 3 * fake.rolloutPhaseMs));
    const rollout = (await sdk().get(
      `/accounts/${ACCOUNT}/containers/applications/app-1/rollouts/rollout-1`,
    )) as {
      result: { status: string; steps: { reason?: string }[] };
    };
    expect(rollout.result.status).toBe("reverted");
    expect(rollout.result.steps[0].reason).toMatch(/failed to pull image .*: manifest unknown/);
  });

  it("one rollout at a time: a second is refused while one is active, and the provider says so", async () => {
    const { outs } = await create();
    // The dashboard's rollout stays active for the whole test.
    fake.rolloutPhaseMs = 3_600_000;
    const body = {
      description: "from the dashboard",
      strategy: "rolling",
      steps: [{ description: "all", step_size: { percentage: 100 } }],
      target_configuration: { image: BROKEN_IMAGE },
    };
    const rollouts = `/accounts/${ACCOUNT}/containers/applications/${outs.applicationId}/rollouts`;
    expect(await refusal(sdk().post(rollouts, { body }))).toBe("accepted");
    expect(await refusal(sdk().post(rollouts, { body }))).toBe("ROLLOUT_IN_PROGRESS");
    await expect(update(outs, { image: NEW_IMAGE })).rejects.toThrow(
      /ContainerApplication spectral-alpha-app: starting a rollout of .*sha256:2{64} failed: the Cloudflare API at .* answered 409 .*ROLLOUT_IN_PROGRESS.*\. If another rollout is running on this application \(started from the dashboard or by wrangler\), wait until it ends; otherwise fix what the answer names\. Then run pulumi up again\.$/,
    );
  });

  it("a rollout replaced by one started elsewhere fails the up, saying it was replaced", async () => {
    const { outs } = await create();
    fake.onRolloutStarted = (applicationId) => replaceActiveRollout(applicationId, fake);
    try {
      await expect(update(outs, { image: NEW_IMAGE })).rejects.toThrow(
        /the rollout of .*sha256:2{64} was replaced: replaced by a newer rollout/,
      );
    } finally {
      fake.onRolloutStarted = undefined;
    }
  });
});
