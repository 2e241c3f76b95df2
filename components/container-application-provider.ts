/**
 * Dynamic provider of ContainerApplication: the Cloudflare Containers application, through the official
 * `cloudflare` SDK (no Pulumi resource exists for it). Scheduling policy `default`, as wrangler deploys it.
 *
 *   create  adopts the application bound to the Worker's Durable Object namespace, whatever its name (one
 *           application per namespace; wrangler names it `<worker>-<class>`), or POSTs a new one. An
 *           application of our name bound to another namespace is an error; an adopted one takes our name.
 *   update  reads the application, PATCHes what changed among the fields PATCH takes, and starts a rolling
 *           rollout only when the configuration (image, instance type) differs, as wrangler does. An
 *           env-only change (a new generation) is the Durable Object's cutover, not a rollout. An
 *           application deleted outside this program is created again.
 *   read    (pulumi refresh) reads the live name, image, instance type, max instances, grace period and
 *           namespace; a deleted application reads as gone, so the next `up` creates it again.
 *   both    wait for a started rollout to complete, within rolloutTimeoutSeconds even when a poll hangs;
 *           a reverted one fails `pulumi up` with Cloudflare's reason and the instances' health. A rollout
 *           still active with the same target (an earlier run's, whose wait failed) is resumed, never
 *           started twice.
 *   delete  DELETEs the application, unless a resource of the running program now holds it (a rename in
 *           code without an alias).
 *   diff    compares what is deployed, never `__provider` (this file's code) or `callLimits`. A namespace
 *           still unknown (a preview while the Worker updates) is decided by its owner, the Worker and
 *           class, which the preview knows: a preview shows what the up does.
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
  /** Whose namespace that is, `<worker>/<class>`: known in a preview, where namespaceId may not be. */
  namespaceOwner: string;
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
  /** Found under another name: made outside this program (wrangler names it `<worker>-<class>`). */
  adopted: boolean;
  /** Which provider wrote the state (see APPLICATION_STATE_VERSION). */
  stateVersion?: number;
}

/**
 * The state this provider writes. State from an older provider (no `read`, pulumi/pulumi#16826: refresh and
 * delete run the provider code stored with it) is rewritten once by an update that only reads.
 */
export const APPLICATION_STATE_VERSION = 2;

/** Outputs, and how calls are made: not what a diff compares. */
const NOT_DEPLOYED = ["applicationId", "rolloutId", "adopted", "stateVersion", "callLimits"];

interface LiveApplication {
  id: string;
  name?: string;
  max_instances?: number;
  rollout_active_grace_period?: number;
  observability?: unknown;
  constraints?: unknown;
  configuration?: { image?: string; instance_type?: string };
  durable_objects?: { namespace_id?: string };
}

export interface Rollout {
  id: string;
  status: string;
  target_configuration?: { image?: string; instance_type?: string };
  /** A step's failure reason is `reason` (containers-shared RolloutStep; the SDK's rollouts.d.ts). */
  steps?: { status?: string; reason?: string }[];
}

/** A call of this application's: what it does, and whether it is a write that must not be repeated blindly. */
type ApplicationCall = Pick<ServiceCall, "doing" | "write" | "deadline" | "outcomeUnknown" | "next">;

export interface ContainerApplicationProvider extends pulumi.dynamic.ResourceProvider {
  cloudflare<T>(
    inputs: ContainerApplicationInputs,
    call: ApplicationCall,
    use: (client: Cloudflare) => Promise<T>,
  ): Promise<T>;
  resumable(rollouts: Rollout[], inputs: ContainerApplicationInputs): Rollout | undefined;
  configuration(inputs: ContainerApplicationInputs): Record<string, unknown>;
  settings(inputs: ContainerApplicationInputs): Record<string, unknown>;
  patchFor(live: LiveApplication, inputs: ContainerApplicationInputs): Record<string, unknown>;
  needsRollout(live: LiveApplication, inputs: ContainerApplicationInputs): boolean;
  findBound(inputs: ContainerApplicationInputs): Promise<LiveApplication | undefined>;
  rollouts(applicationId: string, inputs: ContainerApplicationInputs, doing: string): Promise<Rollout[]>;
  reconcile(live: LiveApplication, inputs: ContainerApplicationInputs): Promise<string | null>;
  rollOut(applicationId: string, inputs: ContainerApplicationInputs): Promise<string>;
  waitForRollout(applicationId: string, rolloutId: string, inputs: ContainerApplicationInputs): Promise<void>;
  objectKey(inputs: { accountId: string }, applicationId: string): string;
  live(
    applicationId: string,
    inputs: ContainerApplicationInputs,
    doing: string,
  ): Promise<LiveApplication | undefined>;
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

  /** Pure: what a rollout changes. Observability is not part of it: the API takes it top-level only. */
  configuration(inputs) {
    return { image: inputs.image, instance_type: inputs.instanceType };
  },

  /**
   * Pure: the application's settings outside its configuration, as wrangler 4.164 sends them: logs on,
   * top-level (the API refuses configuration.observability in a PATCH, workers-sdk #13315), and placement
   * tiers [1, 2], wrangler's default when a config sets none (wrangler containers/config.ts).
   */
  settings(inputs) {
    return {
      name: inputs.name,
      max_instances: inputs.maxInstances,
      rollout_active_grace_period: inputs.rolloutGracePeriodSeconds,
      observability: { logs: { enabled: true } },
      constraints: { tiers: [1, 2] },
    };
  },

  /** Pure: the PATCH body for the settings that differ (empty when none does). */
  patchFor(live, inputs) {
    const current = live as unknown as Record<string, unknown>;
    return Object.fromEntries(
      Object.entries(this.settings(inputs)).filter(
        ([key, value]) => JSON.stringify(current[key]) !== JSON.stringify(value),
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
          next: "If another rollout is running on this application (started from the dashboard or by wrangler), wait until it ends; otherwise fix what the answer names. Then run pulumi up again",
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
    const reasons = (rollout.steps ?? []).map((step) => step.reason).filter(Boolean);
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

  objectKey(inputs, applicationId) {
    return `application ${inputs.accountId}/${applicationId}`;
  },

  /** The application, or undefined when Cloudflare answers 404 (deleted outside this program). */
  async live(applicationId, inputs, doing) {
    try {
      return (
        (await this.cloudflare(inputs, { doing }, (client) =>
          client.get(`${base(inputs)}/${applicationId}`),
        )) as {
          result: LiveApplication;
        }
      ).result;
    } catch (error) {
      if ((error as ServiceError).status === 404) return undefined;
      throw error;
    }
  },

  async diff(id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const { changedInputs, declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    // An unknown namespace (a preview while the Worker uploads) is the same one unless its owner changed:
    // namespaceOwner, known in the preview, decides. Any other unknown value is a change.
    const { changed, unknown } = changedInputs(olds, news, NOT_DEPLOYED);
    const otherUnknown = unknown.filter((key) => key !== "namespaceId");
    // A new namespace is a new Worker class: its application is another one (one per namespace). State
    // written before namespaceOwner existed gains it without a replace.
    const replaces = changed.filter(
      (key) =>
        key === "accountId" ||
        key === "namespaceId" ||
        (key === "namespaceOwner" && olds.namespaceOwner !== undefined),
    );
    if (replaces.length === 0) declareObject(this.objectKey(olds, olds.applicationId ?? id));
    const stale = olds.stateVersion !== APPLICATION_STATE_VERSION;
    // Both would carry the same name, which Cloudflare keeps unique: the old one goes first.
    return {
      changes: changed.length > 0 || otherUnknown.length > 0 || stale,
      replaces,
      deleteBeforeReplace: true,
    };
  },

  async read(id: string, props: ContainerApplicationOutputs) {
    const applicationId = props.applicationId ?? id;
    const live = await this.live(applicationId, props, "reading the application");
    // Deleted outside this program: an empty id drops it from the state, and the next up creates it.
    if (!live) return { id: "", props: {} };
    return {
      id,
      props: {
        ...props,
        applicationId,
        name: live.name ?? props.name,
        image: live.configuration?.image ?? "",
        instanceType: (live.configuration?.instance_type ?? "") as ContainerApplicationInputs["instanceType"],
        maxInstances: live.max_instances ?? 0,
        rolloutGracePeriodSeconds: live.rollout_active_grace_period ?? 0,
        namespaceId: live.durable_objects?.namespace_id ?? "",
        stateVersion: APPLICATION_STATE_VERSION,
      },
    };
  },

  async create(inputs: ContainerApplicationInputs) {
    const { declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const outputs = (live: LiveApplication, rolloutId: string | null) => {
      declareObject(this.objectKey(inputs, live.id));
      const outs: ContainerApplicationOutputs = {
        ...inputs,
        applicationId: live.id,
        rolloutId,
        adopted: live.name !== undefined && live.name !== inputs.name,
        stateVersion: APPLICATION_STATE_VERSION,
      };
      return { id: live.id, outs };
    };
    const bound = await this.findBound(inputs);
    if (bound) return outputs(bound, await this.reconcile(bound, inputs));
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
              ...this.settings(inputs),
              scheduling_policy: "default",
              instances: 0,
              configuration: this.configuration(inputs),
              durable_objects: { namespace_id: inputs.namespaceId },
            },
          }),
      )) as { result: LiveApplication };
      return outputs(created.result, null);
    } catch (error) {
      if ((error as ServiceError).carriedOut !== "unknown") throw error;
      // A lost answer: if the namespace now has an application, the create happened.
      const after = await this.findBound(inputs).catch(() => undefined);
      if (after) return outputs(after, await this.reconcile(after, inputs));
      throw error;
    }
  },

  async update(id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const { declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const applicationId = olds.applicationId ?? id;
    const live = await this.live(applicationId, news, "reading the application");
    // Deleted outside this program (and not refreshed away): create it again, never report success.
    if (!live) return { outs: (await this.create(news)).outs };
    declareObject(this.objectKey(news, applicationId));
    const rolloutId = await this.reconcile(live, news);
    const outs: ContainerApplicationOutputs = {
      ...news,
      applicationId,
      rolloutId,
      adopted: olds.adopted,
      stateVersion: APPLICATION_STATE_VERSION,
    };
    return { outs };
  },

  async delete(id: string, olds: ContainerApplicationOutputs) {
    const { declaredByProgram } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const applicationId = olds.applicationId ?? id;
    // Renamed in code without an alias: the new resource adopted this same application in this run.
    if (declaredByProgram(this.objectKey(olds, applicationId))) return;
    // DELETE is idempotent (a repeat answers 404, which counts as done), so it is retried like a read.
    try {
      await this.cloudflare(olds, { doing: "deleting the application" }, (client) =>
        client.delete(`${base(olds)}/${applicationId}`),
      );
    } catch (error) {
      if ((error as ServiceError).status !== 404) throw error;
    }
  },
};
