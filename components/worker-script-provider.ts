/**
 * Dynamic provider of WorkerScript: the Worker uploaded through the non-versioned script upload,
 * `PUT /accounts/{account}/workers/scripts/{name}`, as wrangler uploads every Worker with containers or
 * migrations (a Worker *version* carrying migrations is refused with 10211; platform facts). The
 * `@pulumi/cloudflare` WorkersScript has no `containers` field, so this goes through the official SDK.
 *
 *   create/update  reads the Worker's migration tag, uploads the module, bindings, compatibility settings,
 *                  `containers` and only the migrations after that tag (`old_tag` checked by Cloudflare),
 *                  then reads the Durable Object namespace id off the uploaded script's binding (as
 *                  wrangler does) and the account's workers.dev subdomain.
 *   delete         deletes the script (force: it has Durable Objects).
 *
 * Every call goes through the shared call policy (@spectral/provider-support): bounded in time, reads
 * retried, the upload retried only when Cloudflare did not carry it out (429, a refused connection). After
 * an upload whose answer was lost, the provider reads the tag again, and an upload whose migrations were
 * applied counts as done. Serialized by the engine: the methods capture nothing, `require` the SDK and
 * read CLOUDFLARE_API_TOKEN (and CLOUDFLARE_API_BASE_URL, for tests) when called.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CallLimits, ServiceError } from "@spectral/provider-support";
import type Cloudflare from "cloudflare";

export interface DurableObjectMigration {
  tag: string;
  newSqliteClasses?: string[];
  deletedClasses?: string[];
  renamedClasses?: { from: string; to: string }[];
}

/**
 * A binding without a secret value: plain text, the Durable Object namespace, or a secret's slot with a
 * keyed digest of its value (lib/deploy/fingerprint.ts), which makes a rotation visible by name.
 */
export type ScriptBinding =
  | { type: "plain_text"; name: string; text: string }
  | { type: "durable_object_namespace"; name: string; className: string }
  | { type: "secret_text"; name: string; digest?: string };

/** Each secret binding's value travels in its own input, `secret_<NAME>`, so each is a secret on its own. */
export const SECRET_INPUT_PREFIX = "secret_";

export interface WorkerScriptInputs {
  accountId: string;
  scriptName: string;
  /** The module's file name and source. */
  mainModule: string;
  code: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** Every binding, by name and type; secret values are in the `secret_<NAME>` inputs. */
  bindings: ScriptBinding[];
  /** The Durable Object class that runs the container. */
  containerClass: string;
  /** Every migration the Worker has had, oldest first (append only). */
  migrations: DurableObjectMigration[];
  /** Time bounds of each Cloudflare call (cloudflare.requestTimeoutSeconds, retryBudgetSeconds). */
  callLimits?: CallLimits;
  [secretInput: `${typeof SECRET_INPUT_PREFIX}${string}`]: string;
}

export interface WorkerScriptOutputs extends WorkerScriptInputs {
  /** The namespace Cloudflare assigned to the container class: the container application binds to it. */
  namespaceId: string;
  /** The Worker's migration tag after the upload. */
  migrationTag: string | null;
  /** https://<script>.<account subdomain>.workers.dev */
  workersDevUrl: string;
}

/** Cloudflare's migrations object: `{ old_tag?, new_tag, steps }`, steps in snake case. */
export interface MigrationsUpload {
  old_tag?: string;
  new_tag: string;
  steps: {
    new_sqlite_classes?: string[];
    deleted_classes?: string[];
    renamed_classes?: { from: string; to: string }[];
  }[];
}

export interface WorkerScriptProvider extends pulumi.dynamic.ResourceProvider {
  cloudflare<T>(
    inputs: WorkerScriptInputs,
    doing: string,
    use: (client: Cloudflare) => Promise<T>,
    write?: boolean,
  ): Promise<T>;
  pendingMigrations(
    history: DurableObjectMigration[],
    deployedTag: string | undefined,
  ): MigrationsUpload | null;
  metadata(inputs: WorkerScriptInputs, migrations: MigrationsUpload | null): Record<string, unknown>;
  deployedTag(client: Cloudflare, inputs: WorkerScriptInputs): Promise<string | undefined>;
  upload(inputs: WorkerScriptInputs): Promise<WorkerScriptOutputs>;
}

export const workerScriptProvider: WorkerScriptProvider = {
  /** One Cloudflare call of this Worker's, under the shared policy; its errors never hold the token or a value. */
  cloudflare(inputs, doing, use, write = false) {
    const { cloudflareCall } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    return cloudflareCall(
      {
        resource: `WorkerScript ${inputs.scriptName}`,
        doing,
        write,
        permission: "Account > Workers Scripts > Edit",
        account: inputs.accountId,
        limits: inputs.callLimits,
        outcomeUnknown:
          "Cloudflare may have taken the upload; the next pulumi up uploads it again, which is safe",
      },
      use,
    );
  },

  /** Pure: the migrations after `deployedTag` (all of them for a Worker that has none yet), or null. */
  pendingMigrations(history, deployedTag) {
    const applied =
      deployedTag === undefined ? 0 : history.findIndex((migration) => migration.tag === deployedTag) + 1;
    if (applied === 0 && deployedTag !== undefined) {
      throw new Error(
        `the Worker's Durable Object migration tag "${deployedTag}" is not in this program's migration history: it was changed outside this program; add the missing migrations to the history`,
      );
    }
    const remaining = history.slice(applied);
    if (remaining.length === 0) return null;
    return {
      ...(deployedTag === undefined ? {} : { old_tag: deployedTag }),
      new_tag: remaining[remaining.length - 1].tag,
      steps: remaining.map((migration) => ({
        ...(migration.newSqliteClasses ? { new_sqlite_classes: migration.newSqliteClasses } : {}),
        ...(migration.deletedClasses ? { deleted_classes: migration.deletedClasses } : {}),
        ...(migration.renamedClasses ? { renamed_classes: migration.renamedClasses } : {}),
      })),
    };
  },

  /** Pure: the upload's metadata part. */
  metadata(inputs, migrations) {
    const bindings = inputs.bindings.map((binding) => {
      if (binding.type === "secret_text") {
        // The digest is ours (it shows a change in plans); Cloudflare gets the value.
        return {
          type: binding.type,
          name: binding.name,
          text: inputs[`${SECRET_INPUT_PREFIX}${binding.name}`],
        };
      }
      if (binding.type === "durable_object_namespace") {
        return { type: binding.type, name: binding.name, class_name: binding.className };
      }
      return binding;
    });
    return {
      main_module: inputs.mainModule,
      compatibility_date: inputs.compatibilityDate,
      compatibility_flags: inputs.compatibilityFlags,
      bindings,
      containers: [{ class_name: inputs.containerClass }],
      ...(migrations ? { migrations } : {}),
      observability: { enabled: true },
    };
  },

  async deployedTag(client, inputs) {
    for await (const script of client.workers.scripts.list({ account_id: inputs.accountId })) {
      if (script.id === inputs.scriptName) return script.migration_tag || undefined;
    }
    return undefined;
  },

  async upload(inputs) {
    const tag = await this.cloudflare(inputs, "reading the Worker's migration tag", (client) =>
      this.deployedTag(client, inputs),
    );
    const migrations = this.pendingMigrations(inputs.migrations, tag);
    // The multipart body wrangler sends: one JSON `metadata` part, and the module in a part named as
    // main_module says. The SDK's scripts.update cannot send it since v7 (it flattens metadata into
    // `metadata[...]` fields and names the module `files[]`: cloudflare-typescript #2799), so the body is
    // built here and sent through the SDK's own request path, with its auth and error handling.
    const form = new FormData();
    form.set(
      "metadata",
      new Blob([JSON.stringify(this.metadata(inputs, migrations))], { type: "application/json" }),
    );
    form.set(
      inputs.mainModule,
      new Blob([inputs.code], { type: "application/javascript+module" }),
      inputs.mainModule,
    );
    let migrationTag: string | null = tag ?? null;
    try {
      const uploaded = (await this.cloudflare(
        inputs,
        "uploading the Worker",
        (client) =>
          client.put(`/accounts/${inputs.accountId}/workers/scripts/${inputs.scriptName}`, { body: form }),
        true,
      )) as { result: { migration_tag?: string } };
      migrationTag = uploaded.result.migration_tag ?? migrations?.new_tag ?? migrationTag;
    } catch (error) {
      // A lost answer: if the tag moved to ours, Cloudflare applied this upload.
      if ((error as ServiceError).carriedOut !== "unknown" || !migrations) throw error;
      const now = await this.cloudflare(
        inputs,
        "reading the Worker's migration tag after a lost answer",
        (client) => this.deployedTag(client, inputs),
      ).catch(() => undefined);
      if (now !== migrations.new_tag) throw error;
      migrationTag = now;
    }
    const { namespaceId, subdomain } = await this.cloudflare(
      inputs,
      "reading the Worker's settings after the upload",
      async (client) => {
        const settings = await client.workers.scripts.scriptAndVersionSettings.get(inputs.scriptName, {
          account_id: inputs.accountId,
        });
        const binding = (settings.bindings ?? []).find(
          (candidate) =>
            candidate.type === "durable_object_namespace" &&
            (candidate as { class_name?: string }).class_name === inputs.containerClass,
        ) as { namespace_id?: string } | undefined;
        const account = await client.workers.subdomains.get({ account_id: inputs.accountId });
        return { namespaceId: binding?.namespace_id, subdomain: account.subdomain };
      },
    );
    if (!namespaceId) {
      throw new Error(
        `WorkerScript ${inputs.scriptName} was uploaded, but its Durable Object binding for ${inputs.containerClass} has no namespace id: check that a migration creates the class (migrations history)`,
      );
    }
    return {
      ...inputs,
      namespaceId,
      migrationTag,
      workersDevUrl: `https://${inputs.scriptName}.${subdomain}.workers.dev`,
    };
  },

  async diff(_id: string, olds: WorkerScriptOutputs, news: WorkerScriptInputs) {
    const keys = [...new Set([...Object.keys(olds), ...Object.keys(news)])].filter(
      // Outputs, and how calls are made (not what is deployed), change nothing at Cloudflare.
      (key) => !["namespaceId", "migrationTag", "workersDevUrl", "callLimits"].includes(key),
    );
    const changed = keys.filter(
      (key) =>
        JSON.stringify((olds as unknown as Record<string, unknown>)[key]) !==
        JSON.stringify((news as unknown as Record<string, unknown>)[key]),
    );
    const replaces = changed.filter((key) => key === "accountId" || key === "scriptName");
    return { changes: changed.length > 0, replaces, deleteBeforeReplace: true };
  },

  async create(inputs: WorkerScriptInputs) {
    const outs = await this.upload(inputs);
    return { id: inputs.scriptName, outs };
  },

  async update(_id: string, _olds: WorkerScriptOutputs, news: WorkerScriptInputs) {
    return { outs: await this.upload(news) };
  },

  async delete(id: string, olds: WorkerScriptOutputs) {
    // DELETE is idempotent (a repeat answers 404, which counts as done), so it is retried like a read.
    try {
      await this.cloudflare(olds, "deleting the Worker", (client) =>
        client.workers.scripts.delete(id, { account_id: olds.accountId, force: true }),
      );
    } catch (error) {
      if ((error as ServiceError).status !== 404) throw error;
    }
  },
};
