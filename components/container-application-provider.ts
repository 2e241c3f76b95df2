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
 *   both    wait for a started rollout to complete, within rolloutTimeoutSeconds even when a poll hangs;
 *           a reverted one fails `pulumi up` with Cloudflare's reason and the instances' health. A rollout
 *           still active with the same target (an earlier run's, whose wait failed) is resumed, never
 *           started twice.
 *   delete  DELETEs the application.
 *
 * Every call goes through the shared call policy (@spectral/provider-support): bounded in time, reads
 * retried, and a create or rollout POST retried only when Cloudflare did not carry it out. After one whose
 * answer was lost, the provider looks for what this call asked for, and carries on with it if it exists.
 * Serialized by the engine: the methods capture nothing, `require` the SDK, and read CLOUDFLARE_API_TOKEN
 * (and CLOUDFLARE_API_BASE_URL, SPECTRAL_ROLLOUT_POLL_MS for tests) when called. The token is never stored.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CallLimits, ServiceCall, ServiceError } from "@spectral/provider-support";
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
  /** Time bounds of each Cloudflare call (cloudflare.requestTimeoutSeconds, retryBudgetSeconds). */
  callLimits?: CallLimits;
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

export interface Rollout {
  id: string;
  status: string;
  target_configuration?: { image?: string; instance_type?: string };
  steps?: { status?: string; status_reason?: string }[];
}

/** A call of this application's: what it does, and whether it is a write that must not be repeated blindly. */
type ApplicationCall = Pick<ServiceCall, "doing" | "write" | "deadline" | "outcomeUnknown">;

export interface ContainerApplicationProvider extends pulumi.dynamic.ResourceProvider {
  cloudflare<T>(
    inputs: ContainerApplicationInputs,
    call: ApplicationCall,
    use: (client: Cloudflare) => Promise<T>,
  ): Promise<T>;
  resumable(rollouts: Rollout[], inputs: ContainerApplicationInputs): Rollout | undefined;
  configuration(inputs: ContainerApplicationInputs): Record<string, unknown>;
  patchFor(live: LiveApplication, inputs: ContainerApplicationInputs): Record<string, unknown>;
  needsRollout(live: LiveApplication, inputs: ContainerApplicationInputs): boolean;
  findBound(inputs: ContainerApplicationInputs): Promise<LiveApplication | undefined>;
  rollouts(applicationId: string, inputs: ContainerApplicationInputs, doing: string): Promise<Rollout[]>;
  reconcile(live: LiveApplication, inputs: ContainerApplicationInputs): Promise<string | null>;
  rollOut(applicationId: string, inputs: ContainerApplicationInputs): Promise<string>;
  waitForRollout(applicationId: string, rolloutId: string, inputs: ContainerApplicationInputs): Promise<void>;
}

const base = (inputs: { accountId: string }) => `/accounts/${inputs.accountId}/containers/applications`;

export const containerApplicationProvider: ContainerApplicationProvider = {
  /** One Cloudflare call of this application's, under the shared policy. */
  cloudflare(inputs, call, use) {
    const { cloudflareCall } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    return cloudflareCall(
      {
        resource: `ContainerApplication ${inputs.name}`,
        permission: "Account > Containers > Edit",
        account: inputs.accountId,
        limits: inputs.callLimits,
        ...call,
      },
      use,
    );
  },

  /** Pure: an active rollout to exactly this configuration, which a new one would only repeat. */
  resumable(rollouts, inputs) {
    return rollouts.find(
      (rollout) =>
        ["pending", "progressing"].includes(rollout.status) &&
        rollout.target_configuration?.image === inputs.image &&
        rollout.target_configuration?.instance_type === inputs.instanceType,
    );
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

  async findBound(inputs) {
    const listed = await this.cloudflare(
      inputs,
      { doing: `looking up the application of namespace ${inputs.namespaceId}` },
      async (client) => {
        const all: LiveApplication[] = [];
        for await (const application of client.containers.applications.list({ account_id: inputs.accountId }))
          all.push(application as unknown as LiveApplication);
        return all;
      },
    );
    const named = listed.find(
      (live) => live.name === inputs.name && live.durable_objects?.namespace_id !== inputs.namespaceId,
    );
    const bound = listed.find((live) => live.durable_objects?.namespace_id === inputs.namespaceId);
    if (named)
      throw new Error(
        `ContainerApplication ${inputs.name}: application ${inputs.name} already exists and serves Durable Object namespace ${named.durable_objects?.namespace_id ?? "(none)"}, not ${inputs.namespaceId}: choose another cloudflare.containerName, or delete that application if it is stale`,
      );
    return bound;
  },

  async rollouts(applicationId, inputs, doing) {
    const listed = (await this.cloudflare(inputs, { doing }, (client) =>
      client.get(`${base(inputs)}/${applicationId}/rollouts`),
    )) as { result: Rollout[] };
    return listed.result ?? [];
  },

  async reconcile(live, inputs) {
    const patch = this.patchFor(live, inputs);
    if (Object.keys(patch).length > 0) {
      // PATCH sets values: repeating it is harmless, so it is retried like a read.
      await this.cloudflare(inputs, { doing: "updating the application's settings" }, (client) =>
        client.patch(`${base(inputs)}/${live.id}`, { body: patch }),
      );
    }
    if (!this.needsRollout(live, inputs)) return null;
    const rolloutId = await this.rollOut(live.id, inputs);
    await this.waitForRollout(live.id, rolloutId, inputs);
    return rolloutId;
  },

  async rollOut(applicationId, inputs) {
    const earlier = await this.rollouts(applicationId, inputs, "reading the application's rollouts");
    // An earlier run started this very rollout and lost sight of it (its wait failed): watch it again.
    const active = this.resumable(earlier, inputs);
    if (active) return active.id;
    try {
      const started = (await this.cloudflare(
        inputs,
        {
          doing: `starting a rollout of ${inputs.image}`,
          write: true,
          outcomeUnknown: "Cloudflare may have started it; the next pulumi up finds it and watches it",
        },
        (client) =>
          client.post(`${base(inputs)}/${applicationId}/rollouts`, {
            body: {
              description: `pulumi up: ${inputs.image}`,
              strategy: "rolling",
              kind: "full_auto",
              steps: inputs.rolloutStepPercentages.map((percentage) => ({
                description: `${percentage}% of instances`,
                step_size: { percentage },
              })),
              target_configuration: this.configuration(inputs),
            },
          }),
      )) as { result: Rollout };
      return started.result.id;
    } catch (error) {
      if ((error as ServiceError).carriedOut !== "unknown") throw error;
      // A lost answer: this call's rollout is one that was not there before and targets this image.
      const after = await this.rollouts(
        applicationId,
        inputs,
        "looking for the rollout whose answer was lost",
      ).catch(() => [] as Rollout[]);
      const ours = after.find(
        (rollout) =>
          !earlier.some((seen) => seen.id === rollout.id) &&
          rollout.target_configuration?.image === inputs.image,
      );
      if (ours) return ours.id;
      throw error;
    }
  },

  async waitForRollout(applicationId, rolloutId, inputs) {
    const poll = Number(process.env.SPECTRAL_ROLLOUT_POLL_MS || 5000);
    // Every poll is bounded by what is left, so the wait ends by the deadline even when a poll hangs.
    const deadline = Date.now() + inputs.rolloutTimeoutSeconds * 1000;
    const resumeHint = `Rollout ${rolloutId} goes on at Cloudflare: the next pulumi up watches it again instead of starting another.`;
    let rollout: Rollout;
    for (;;) {
      try {
        // At least one look, however short the limit: each poll may take 2 s past it at most.
        const pollDeadline = Math.max(deadline, Date.now() + 2000);
        rollout = (
          (await this.cloudflare(
            inputs,
            { doing: `watching rollout ${rolloutId}`, deadline: pollDeadline },
            (client) => client.get(`${base(inputs)}/${applicationId}/rollouts/${rolloutId}`),
          )) as { result: Rollout }
        ).result;
      } catch (error) {
        throw new Error(`${(error as Error).message} ${resumeHint}`);
      }
      if (rollout.status === "completed") return;
      if (rollout.status === "reverted" || rollout.status === "replaced" || Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, Math.min(poll, Math.max(0, deadline - Date.now()))));
    }
    const reasons = (rollout.steps ?? []).map((step) => step.status_reason).filter(Boolean);
    // The instances' health, for the message: a short look, so the limit holds.
    const live = (await this.cloudflare(
      inputs,
      { doing: "reading the instances' health", deadline: Date.now() + 3000 },
      (client) => client.get(`${base(inputs)}/${applicationId}`),
    ).catch(() => ({ result: {} }))) as { result: { health?: unknown } };
    const ended = rollout.status === "reverted" || rollout.status === "replaced";
    const what = ended
      ? `was ${rollout.status}`
      : `is still ${rollout.status} after ${inputs.rolloutTimeoutSeconds}s (cloudflare.rolloutTimeoutSeconds)`;
    throw new Error(
      `ContainerApplication ${inputs.name}: the rollout of ${inputs.image} ${what}${reasons.length ? `: ${reasons.join("; ")}` : ""}; instances' health: ${JSON.stringify(live.result.health ?? "unknown")}. Check the image runs (docker run it locally) and the application's instances in the Cloudflare dashboard${ended ? "" : `. ${resumeHint}`}`,
    );
  },

  async diff(_id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    // How calls are made (callLimits) is not what is deployed: it changes nothing at Cloudflare.
    const keys = (Object.keys(news) as (keyof ContainerApplicationInputs)[]).filter(
      (key) => key !== "callLimits",
    );
    const changed = keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
    // A new namespace is a new Worker class: its application is another one (one per namespace).
    const replaces = changed.filter((key) => key === "accountId" || key === "namespaceId");
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ContainerApplicationInputs) {
    const outputs = (applicationId: string, rolloutId: string | null, adopted: boolean) => ({
      id: applicationId,
      outs: { ...inputs, applicationId, rolloutId, adopted } satisfies ContainerApplicationOutputs,
    });
    const bound = await this.findBound(inputs);
    if (bound) return outputs(bound.id, await this.reconcile(bound, inputs), true);
    try {
      const created = (await this.cloudflare(
        inputs,
        {
          doing: "creating the application",
          write: true,
          outcomeUnknown:
            "Cloudflare may have created it; the next pulumi up finds it by its namespace and adopts it",
        },
        (client) =>
          client.post(base(inputs), {
            body: {
              name: inputs.name,
              scheduling_policy: "default",
              instances: 0,
              max_instances: inputs.maxInstances,
              rollout_active_grace_period: inputs.rolloutGracePeriodSeconds,
              configuration: this.configuration(inputs),
              durable_objects: { namespace_id: inputs.namespaceId },
            },
          }),
      )) as { result: LiveApplication };
      return outputs(created.result.id, null, false);
    } catch (error) {
      if ((error as ServiceError).carriedOut !== "unknown") throw error;
      // A lost answer: if the namespace now has an application, the create happened.
      const after = await this.findBound(inputs).catch(() => undefined);
      if (after) return outputs(after.id, await this.reconcile(after, inputs), false);
      throw error;
    }
  },

  async update(id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const live = (
      (await this.cloudflare(news, { doing: "reading the application" }, (client) =>
        client.get(`${base(news)}/${id}`),
      )) as { result: LiveApplication }
    ).result;
    const rolloutId = await this.reconcile(live, news);
    return { outs: { ...news, applicationId: id, rolloutId, adopted: olds.adopted } };
  },

  async delete(id: string, olds: ContainerApplicationOutputs) {
    // DELETE is idempotent (a repeat answers 404, which counts as done), so it is retried like a read.
    try {
      await this.cloudflare(olds, { doing: "deleting the application" }, (client) =>
        client.delete(`${base(olds)}/${id}`),
      );
    } catch (error) {
      if ((error as ServiceError).status !== 404) throw error;
    }
  },
};
