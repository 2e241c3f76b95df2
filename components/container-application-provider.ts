/**
 * Dynamic provider of ContainerApplication: the Cloudflare Containers application, through the official
 * `cloudflare` SDK (no Pulumi resource exists for it). Scheduling policy `default`, as wrangler deploys it.
 *
 *   create  adopts the application bound to the Worker's Durable Object namespace, whatever its name (one
 *           application per namespace; wrangler names it `<worker>-<class>`), or POSTs a new one. An
 *           application of our name bound to another namespace is an error.
 *   update  reads the application, PATCHes what changed among the fields PATCH takes, and starts a rolling
 *           rollout only when the configuration (image, instance type) differs, as wrangler does. An
 *           env-only change (a new generation) is the Durable Object's cutover, not a rollout.
 *   both    wait for a started rollout to complete; a reverted one fails `pulumi up` with Cloudflare's
 *           reason and the instances' health.
 *   delete  DELETEs the application.
 *
 * Writes are never retried blindly (the SDK retries POSTs on 5xx with no idempotency key): after a failed
 * create or rollout the provider looks for what it asked for, and carries on with it if it exists.
 * Serialized by the engine: the methods capture nothing, `require` the SDK, and read CLOUDFLARE_API_TOKEN
 * (and CLOUDFLARE_API_BASE_URL, SPECTRAL_ROLLOUT_POLL_MS for tests) when called. The token is never stored.
 */
import type * as pulumi from "@pulumi/pulumi";
import type Cloudflare from "cloudflare";

export interface ContainerApplicationInputs {
  accountId: string;
  name: string;
  /** The Durable Object namespace of the Worker's container class, from the Worker's upload. */
  namespaceId: string;
  /** The image by digest: registry.cloudflare.com/<account>/<name>@sha256:... */
  image: string;
  instanceType: "lite" | "basic" | "standard-1" | "standard-2" | "standard-3" | "standard-4";
  maxInstances: number;
  /** Rollout steps, in percent of instances: 10 to 100, increasing, ending at 100. */
  rolloutStepPercentages: number[];
  /** How long a running instance may finish its work before a rollout stops it. */
  rolloutGracePeriodSeconds: number;
  /** How long `pulumi up` waits for a rollout to complete. */
  rolloutTimeoutSeconds: number;
}

export interface ContainerApplicationOutputs extends ContainerApplicationInputs {
  applicationId: string;
  /** The rollout the last change started, if any. */
  rolloutId: string | null;
  adopted: boolean;
}

interface LiveApplication {
  id: string;
  name?: string;
  max_instances?: number;
  rollout_active_grace_period?: number;
  configuration?: { image?: string; instance_type?: string };
  durable_objects?: { namespace_id?: string };
}

interface Rollout {
  id: string;
  status: string;
  target_configuration?: { image?: string; instance_type?: string };
  steps?: { status?: string; status_reason?: string }[];
}

export interface ContainerApplicationProvider extends pulumi.dynamic.ResourceProvider {
  connect(retries: number): Cloudflare;
  explain(error: unknown, doing: string): Error;
  configuration(inputs: ContainerApplicationInputs): Record<string, unknown>;
  patchFor(live: LiveApplication, inputs: ContainerApplicationInputs): Record<string, unknown>;
  needsRollout(live: LiveApplication, inputs: ContainerApplicationInputs): boolean;
  findBound(client: Cloudflare, inputs: ContainerApplicationInputs): Promise<LiveApplication | undefined>;
  reconcile(live: LiveApplication, inputs: ContainerApplicationInputs): Promise<string | null>;
  rollOut(applicationId: string, inputs: ContainerApplicationInputs): Promise<string>;
  waitForRollout(applicationId: string, rolloutId: string, inputs: ContainerApplicationInputs): Promise<void>;
}

const base = (inputs: { accountId: string }) => `/accounts/${inputs.accountId}/containers/applications`;

export const containerApplicationProvider: ContainerApplicationProvider = {
  connect(retries) {
    const { cloudflareClient } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    return cloudflareClient({ rights: "Containers edit", maxRetries: retries });
  },

  /** Cloudflare's status and error (the containers API nests `{"error","details"}` JSON in the message). */
  explain(error, doing) {
    const { describeCloudflareError } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    return new Error(describeCloudflareError(error, doing));
  },

  configuration(inputs) {
    return {
      image: inputs.image,
      instance_type: inputs.instanceType,
      observability: { logs: { enabled: true } },
    };
  },

  /** Pure: the PATCH body for what differs among the fields PATCH takes (empty when nothing does). */
  patchFor(live, inputs) {
    const wanted = {
      name: inputs.name,
      max_instances: inputs.maxInstances,
      rollout_active_grace_period: inputs.rolloutGracePeriodSeconds,
    };
    return Object.fromEntries(
      Object.entries(wanted).filter(
        ([key, value]) => (live as unknown as Record<string, unknown>)[key] !== value,
      ),
    );
  },

  /** Pure: a rollout only when the configuration changed (wrangler: `if (diff.changes === 0) return`). */
  needsRollout(live, inputs) {
    return (
      live.configuration?.image !== inputs.image || live.configuration?.instance_type !== inputs.instanceType
    );
  },

  async findBound(client, inputs) {
    let bound: LiveApplication | undefined;
    for await (const application of client.containers.applications.list({ account_id: inputs.accountId })) {
      const live = application as unknown as LiveApplication;
      if (live.durable_objects?.namespace_id === inputs.namespaceId) bound = live;
      else if (live.name === inputs.name)
        throw new Error(
          `application ${inputs.name} already exists and serves Durable Object namespace ${live.durable_objects?.namespace_id ?? "(none)"}, not ${inputs.namespaceId}: choose another cloudflare.containerName, or delete that application if it is stale`,
        );
    }
    return bound;
  },

  async reconcile(live, inputs) {
    const patch = this.patchFor(live, inputs);
    if (Object.keys(patch).length > 0) {
      try {
        // PATCH sets values: repeating it is harmless, so the SDK may retry it.
        await this.connect(2).patch(`${base(inputs)}/${live.id}`, { body: patch });
      } catch (error) {
        throw this.explain(error, `updating application ${inputs.name}`);
      }
    }
    if (!this.needsRollout(live, inputs)) return null;
    const rolloutId = await this.rollOut(live.id, inputs);
    await this.waitForRollout(live.id, rolloutId, inputs);
    return rolloutId;
  },

  async rollOut(applicationId, inputs) {
    const target = this.configuration(inputs);
    try {
      const started = (await this.connect(0).post(`${base(inputs)}/${applicationId}/rollouts`, {
        body: {
          description: `pulumi up: ${inputs.image}`,
          strategy: "rolling",
          kind: "full_auto",
          steps: inputs.rolloutStepPercentages.map((percentage) => ({
            description: `${percentage}% of instances`,
            step_size: { percentage },
          })),
          target_configuration: target,
        },
      })) as { result: Rollout };
      return started.result.id;
    } catch (error) {
      // A lost answer: the rollout may have started. Look before starting another.
      const listed = (await this.connect(2)
        .get(`${base(inputs)}/${applicationId}/rollouts`)
        .catch(() => ({ result: [] }))) as { result: Rollout[] };
      const ours = listed.result.find(
        (rollout) =>
          rollout.target_configuration?.image === inputs.image &&
          ["pending", "progressing", "completed"].includes(rollout.status),
      );
      if (ours) return ours.id;
      throw this.explain(error, `starting a rollout of ${inputs.image} on application ${inputs.name}`);
    }
  },

  async waitForRollout(applicationId, rolloutId, inputs) {
    const client = this.connect(2);
    const poll = Number(process.env.SPECTRAL_ROLLOUT_POLL_MS || 5000);
    const deadline = Date.now() + inputs.rolloutTimeoutSeconds * 1000;
    let rollout: Rollout | undefined;
    for (;;) {
      try {
        rollout = (
          (await client.get(`${base(inputs)}/${applicationId}/rollouts/${rolloutId}`)) as { result: Rollout }
        ).result;
      } catch (error) {
        throw this.explain(error, `reading rollout ${rolloutId} of application ${inputs.name}`);
      }
      if (rollout.status === "completed") return;
      if (rollout.status === "reverted" || rollout.status === "replaced" || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, poll));
    }
    const reasons = (rollout.steps ?? []).map((step) => step.status_reason).filter(Boolean);
    const live = (await client.get(`${base(inputs)}/${applicationId}`).catch(() => ({ result: {} }))) as {
      result: { health?: unknown };
    };
    const what =
      rollout.status === "reverted" || rollout.status === "replaced"
        ? `was ${rollout.status}`
        : `is still ${rollout.status} after ${inputs.rolloutTimeoutSeconds}s (cloudflare.rolloutTimeoutSeconds)`;
    throw new Error(
      `the rollout of ${inputs.image} to application ${inputs.name} ${what}${reasons.length ? `: ${reasons.join("; ")}` : ""}; instances' health: ${JSON.stringify(live.result.health ?? "unknown")}. Check the image runs (docker run it locally) and the application's instances in the Cloudflare dashboard`,
    );
  },

  async diff(_id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const keys = Object.keys(news) as (keyof ContainerApplicationInputs)[];
    const changed = keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
    // A new namespace is a new Worker class: its application is another one (one per namespace).
    const replaces = changed.filter((key) => key === "accountId" || key === "namespaceId");
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ContainerApplicationInputs) {
    const client = this.connect(2);
    const where = `application ${inputs.name}`;
    const outputs = (applicationId: string, rolloutId: string | null, adopted: boolean) => ({
      id: applicationId,
      outs: { ...inputs, applicationId, rolloutId, adopted } satisfies ContainerApplicationOutputs,
    });
    let bound: LiveApplication | undefined;
    try {
      bound = await this.findBound(client, inputs);
    } catch (error) {
      if ((error as { status?: number }).status === undefined) throw error;
      throw this.explain(error, `looking up the application of namespace ${inputs.namespaceId}`);
    }
    if (bound) return outputs(bound.id, await this.reconcile(bound, inputs), true);
    try {
      const created = (await this.connect(0).post(base(inputs), {
        body: {
          name: inputs.name,
          scheduling_policy: "default",
          instances: 0,
          max_instances: inputs.maxInstances,
          rollout_active_grace_period: inputs.rolloutGracePeriodSeconds,
          configuration: this.configuration(inputs),
          durable_objects: { namespace_id: inputs.namespaceId },
        },
      })) as { result: LiveApplication };
      return outputs(created.result.id, null, false);
    } catch (error) {
      // A lost answer: if the namespace now has an application, the create happened.
      const after = await this.findBound(client, inputs).catch(() => undefined);
      if (after) return outputs(after.id, await this.reconcile(after, inputs), false);
      throw this.explain(error, `creating ${where}`);
    }
  },

  async update(id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    let live: LiveApplication;
    try {
      live = ((await this.connect(2).get(`${base(news)}/${id}`)) as { result: LiveApplication }).result;
    } catch (error) {
      throw this.explain(error, `reading application ${news.name}`);
    }
    const rolloutId = await this.reconcile(live, news);
    return { outs: { ...news, applicationId: id, rolloutId, adopted: olds.adopted } };
  },

  async delete(id: string, olds: ContainerApplicationOutputs) {
    try {
      await this.connect(2).delete(`${base(olds)}/${id}`);
    } catch (error) {
      if ((error as { status?: number }).status === 404) return;
      throw this.explain(error, `deleting application ${olds.name}`);
    }
  },
};
