/**
 * Dynamic provider of ContainerApplication: the Cloudflare Containers application, through the official
 * `cloudflare` SDK (no Pulumi resource exists for it). Scheduling policy `default`, as wrangler deploys it.
 *
 *   create  adopts an application of the same name bound to the same Durable Object namespace (an earlier
 *           wrangler deploy), or POSTs a new one; one bound to another namespace is an error.
 *   update  PATCHes what PATCH accepts (max_instances, observability), then starts a rolling rollout
 *           when the image, the instance type or the generation changed: a rollout is what restarts
 *           running containers, so every new generation reaches them.
 *   delete  DELETEs the application.
 *
 * Serialized by the engine: the methods capture nothing, `require` the SDK, and read CLOUDFLARE_API_TOKEN
 * (and CLOUDFLARE_API_BASE_URL, for tests) when called. The token is never stored.
 */
import type * as pulumi from "@pulumi/pulumi";
import type Cloudflare from "cloudflare";

export interface ContainerApplicationInputs {
  accountId: string;
  name: string;
  /** The image by digest: registry.cloudflare.com/<account>/<name>@sha256:... */
  image: string;
  instanceType: "lite" | "basic" | "standard-1" | "standard-2" | "standard-3" | "standard-4";
  maxInstances: number;
  /** The Worker and Durable Object class the application serves. */
  workerName: string;
  className: string;
  /** Rollout steps, in percent of instances, ending at 100. */
  rolloutStepPercentages: number[];
  /** The deployment generation the containers must run; a new one rolls every container. */
  generation: number;
}

export interface ContainerApplicationOutputs extends ContainerApplicationInputs {
  applicationId: string;
  namespaceId: string;
  /** The rollout the last create or update started, if any. */
  rolloutId: string | null;
  adopted: boolean;
}

type Configuration = { image: string; instance_type: ContainerApplicationInputs["instanceType"] };

export interface ContainerApplicationProvider extends pulumi.dynamic.ResourceProvider {
  connect(): Cloudflare;
  explain(error: unknown, doing: string): Error;
  configuration(
    inputs: ContainerApplicationInputs,
  ): Configuration & { observability: { logs: { enabled: boolean } } };
  rollOut(client: Cloudflare, applicationId: string, inputs: ContainerApplicationInputs): Promise<string>;
}

export const containerApplicationProvider: ContainerApplicationProvider = {
  connect() {
    const { default: Client } = require("cloudflare") as typeof import("cloudflare");
    const apiToken = process.env.CLOUDFLARE_API_TOKEN;
    if (!apiToken)
      throw new Error(
        "CLOUDFLARE_API_TOKEN is not set: export a Cloudflare API token with Containers edit rights",
      );
    return new Client({ apiToken, baseURL: process.env.CLOUDFLARE_API_BASE_URL || undefined, maxRetries: 2 });
  },

  /** Cloudflare's status, codes and messages, and what we were doing; never the token. */
  explain(error: unknown, doing: string) {
    const { status, errors, message } = error as {
      status?: number;
      errors?: { code: number; message: string }[];
      message?: string;
    };
    if (typeof status !== "number") return new Error(`${message ?? String(error)} while ${doing}`);
    const details = (errors ?? []).map((each) => `code ${each.code}: ${each.message}`).join("; ");
    return new Error(`Cloudflare API ${status}${details ? ` [${details}]` : ""} while ${doing}`);
  },

  configuration(inputs) {
    return {
      image: inputs.image,
      instance_type: inputs.instanceType,
      observability: { logs: { enabled: true } },
    };
  },

  async rollOut(client, applicationId, inputs) {
    const rollout = await client.containers.applications.rollouts.create(applicationId, {
      account_id: inputs.accountId,
      description: `generation ${inputs.generation}: ${inputs.image}`,
      strategy: "rolling",
      kind: "full_auto",
      steps: inputs.rolloutStepPercentages.map((percentage) => ({
        description: `${percentage}% of instances`,
        step_size: { percentage },
      })),
      target_configuration: this.configuration(inputs),
    });
    return rollout.id;
  },

  async diff(_id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const keys = Object.keys(news) as (keyof ContainerApplicationInputs)[];
    const changed = keys.filter((key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]));
    // The name is the application's identity, and PATCH cannot rebind it to another namespace.
    const replaces = changed.filter((key) => ["accountId", "name", "workerName", "className"].includes(key));
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: ContainerApplicationInputs) {
    const client = this.connect();
    const where = `application ${inputs.name}`;
    let namespaceId: string | undefined;
    let existing: { id: string; durable_objects?: { namespace_id: string } } | undefined;
    try {
      for await (const namespace of client.durableObjects.namespaces.list({ account_id: inputs.accountId })) {
        if (namespace.script === inputs.workerName && namespace.class === inputs.className)
          namespaceId = namespace.id;
      }
      for await (const application of client.containers.applications.list({ account_id: inputs.accountId })) {
        if (application.name === inputs.name) existing = application;
      }
    } catch (error) {
      throw this.explain(error, `looking up ${where} and the Worker's Durable Object namespace`);
    }
    if (!namespaceId) {
      throw new Error(
        `Worker ${inputs.workerName} has no Durable Object namespace for class ${inputs.className}: its version must be deployed before ${where} (check the Worker deployment)`,
      );
    }
    const outputs = (
      applicationId: string,
      rolloutId: string | null,
      adopted: boolean,
    ): ContainerApplicationOutputs => ({
      ...inputs,
      applicationId,
      namespaceId: namespaceId as string,
      rolloutId,
      adopted,
    });
    if (existing) {
      const boundTo = existing.durable_objects?.namespace_id;
      if (boundTo !== namespaceId) {
        throw new Error(
          `${where} already exists and serves Durable Object namespace ${boundTo ?? "(none)"}, not ${namespaceId} (Worker ${inputs.workerName}, class ${inputs.className}): choose another cloudflare.containerName, or delete that application if it is stale`,
        );
      }
      try {
        await client.containers.applications.edit(existing.id, {
          account_id: inputs.accountId,
          max_instances: inputs.maxInstances,
        });
        const rolloutId = await this.rollOut(client, existing.id, inputs);
        return { id: existing.id, outs: outputs(existing.id, rolloutId, true) };
      } catch (error) {
        throw this.explain(error, `adopting ${where}`);
      }
    }
    try {
      const created = await client.containers.applications.create({
        account_id: inputs.accountId,
        name: inputs.name,
        scheduling_policy: "default",
        instances: 0,
        max_instances: inputs.maxInstances,
        configuration: this.configuration(inputs),
        durable_objects: { namespace_id: namespaceId },
      });
      return { id: created.id, outs: outputs(created.id, null, false) };
    } catch (error) {
      throw this.explain(error, `creating ${where}`);
    }
  },

  async update(id: string, olds: ContainerApplicationOutputs, news: ContainerApplicationInputs) {
    const client = this.connect();
    const rollsOut = (["image", "instanceType", "generation"] as const).some(
      (key) => olds[key] !== news[key],
    );
    try {
      if (olds.maxInstances !== news.maxInstances) {
        await client.containers.applications.edit(id, {
          account_id: news.accountId,
          max_instances: news.maxInstances,
        });
      }
      const rolloutId = rollsOut ? await this.rollOut(client, id, news) : olds.rolloutId;
      return { outs: { ...olds, ...news, rolloutId } };
    } catch (error) {
      throw this.explain(error, `updating application ${news.name}`);
    }
  },

  async delete(id: string, olds: ContainerApplicationOutputs) {
    try {
      await this.connect().containers.applications.delete(id, { account_id: olds.accountId });
    } catch (error) {
      if ((error as { status?: number }).status === 404) return;
      throw this.explain(error, `deleting application ${olds.name}`);
    }
  },
};
