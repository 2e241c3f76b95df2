/**
 * Dynamic provider of WorkerScript: the Worker uploaded through the non-versioned script upload,
 * `PUT /accounts/{account}/workers/scripts/{name}`, as wrangler uploads every Worker with containers or
 * migrations (a Worker *version* carrying migrations is refused with 10211; platform facts). The
 * `@pulumi/cloudflare` WorkersScript has no `containers` field, so this goes through the official SDK.
 *
 *   create/update  reads the Worker's migration tag, uploads the module, bindings, compatibility settings,
 *                  `containers`, the Durable Objects' code update strategy and only the migrations after
 *                  that tag (`old_tag` checked by Cloudflare), then reads the Durable Object namespace id
 *                  off the version the upload made (`versions/{deployment_id}`, retrying 100146 while it
 *                  propagates, as wrangler does) and the account's workers.dev subdomain. It sends no
 *                  `keep_bindings`: the upload declares every binding, so a secret added outside this
 *                  program (`wrangler secret put`) is removed by the next upload.
 *   read           (pulumi refresh) reads the Worker's bindings and compatibility settings; a deleted Worker
 *                  reads as gone, so the next `up` uploads it again. Its `containers` are not readable through
 *                  the API (script settings carry no such field) and stay as declared.
 *   delete         deletes the script (force: it has Durable Objects), unless a resource of the running
 *                  program now holds the same Worker (a rename in code without an alias).
 *   diff           compares what is deployed, never `__provider` (this file's code) or `callLimits`; a new
 *                  name or account is a new Worker, created before the old one is deleted.
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

/**
 * How active Durable Objects take new code (docs: durable-objects/deployments/durable-objects-code-updates):
 * `immediate`, or `deferred` for up to `max_delay` seconds (300 when no strategy is sent).
 */
export interface CodeUpdateStrategy {
  mode: "immediate" | "deferred";
  max_delay?: number;
}

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
  /** How running Durable Objects pick up this upload. */
  codeUpdateStrategy: CodeUpdateStrategy;
  /** Time bounds of each Cloudflare call (cloudflare.requestTimeoutSeconds, retryBudgetSeconds). */
  callLimits?: CallLimits;
  [secretInput: `${typeof SECRET_INPUT_PREFIX}${string}`]: string;
}

export interface WorkerScriptOutputs extends WorkerScriptInputs {
  /** Which provider wrote the state (see WORKER_STATE_VERSION). */
  stateVersion?: number;
  /** The namespace Cloudflare assigned to the container class: the container application binds to it. */
  namespaceId: string;
  /** The Worker's migration tag after the upload. */
  migrationTag: string | null;
  /** https://<script>.<account subdomain>.workers.dev */
  workersDevUrl: string;
}

/**
 * The state this provider writes. State from an older provider (no `read`, pulumi/pulumi#16826: refresh and
 * delete run the provider code stored with it) is rewritten once by an update that calls nothing.
 */
export const WORKER_STATE_VERSION = 2;

/** Outputs, and how calls are made: they change nothing at Cloudflare. */
const NOT_DEPLOYED = ["namespaceId", "migrationTag", "workersDevUrl", "callLimits", "stateVersion"];

/** A binding as the Worker's settings report it. */
export interface LiveBinding {
  type: string;
  name: string;
  text?: string;
  class_name?: string;
  namespace_id?: string;
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
  uploadedVersion(inputs: WorkerScriptInputs, versionId: string): Promise<{ bindings: LiveBinding[] }>;
  upload(inputs: WorkerScriptInputs): Promise<WorkerScriptOutputs>;
  bindingsOf(live: LiveBinding[], declared: ScriptBinding[]): ScriptBinding[];
  namespaceOf(live: LiveBinding[], containerClass: string): string | undefined;
  objectKey(inputs: { accountId: string; scriptName: string }): string;
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
      code_update_strategy: inputs.codeUpdateStrategy,
      observability: { enabled: true },
    };
  },

  async deployedTag(client, inputs) {
    for await (const script of client.workers.scripts.list({ account_id: inputs.accountId })) {
      if (script.id === inputs.scriptName) return script.migration_tag || undefined;
    }
    return undefined;
  },

  /**
   * The version an upload made, with its bindings. Cloudflare's control plane is eventually consistent: a
   * version just uploaded can answer 100146 for a moment, which wrangler retries five times, 500 ms apart
   * (containers/deploy.ts, fetchUploadedVersion; workers-sdk #14410). So does this.
   */
  async uploadedVersion(inputs, versionId) {
    const { setTimeout: sleep } = require("node:timers/promises") as typeof import("node:timers/promises");
    for (let attempt = 1; ; attempt++) {
      try {
        const version = (await this.cloudflare(inputs, "reading the version the upload made", (client) =>
          client.get(
            `/accounts/${inputs.accountId}/workers/scripts/${inputs.scriptName}/versions/${versionId}`,
          ),
        )) as { result: { resources?: { bindings?: LiveBinding[] } } };
        return { bindings: version.result.resources?.bindings ?? [] };
      } catch (error) {
        if (!(error as ServiceError).codes?.includes(100146) || attempt === 5) throw error;
        await sleep(500);
      }
    }
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
    let versionId: string | undefined;
    try {
      const uploaded = (await this.cloudflare(
        inputs,
        "uploading the Worker",
        (client) =>
          client.put(`/accounts/${inputs.accountId}/workers/scripts/${inputs.scriptName}`, { body: form }),
        true,
      )) as { result: { migration_tag?: string; deployment_id?: string } };
      migrationTag = uploaded.result.migration_tag ?? migrations?.new_tag ?? migrationTag;
      versionId = uploaded.result.deployment_id;
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
    // After a lost answer the version is unknown: the deployed one is this upload's.
    versionId ??= await this.cloudflare(inputs, "reading the Worker's latest deployment", async (client) => {
      const { result } = (await client.get(
        `/accounts/${inputs.accountId}/workers/scripts/${inputs.scriptName}/deployments`,
      )) as { result: { deployments: { versions: { version_id: string }[] }[] } };
      return result.deployments[0]?.versions[0]?.version_id;
    });
    const { bindings } = versionId ? await this.uploadedVersion(inputs, versionId) : { bindings: [] };
    const namespaceId = this.namespaceOf(bindings, inputs.containerClass);
    const subdomain = await this.cloudflare(
      inputs,
      "reading the account's workers.dev subdomain",
      async (client) => (await client.workers.subdomains.get({ account_id: inputs.accountId })).subdomain,
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

  /** Pure: live bindings in our shape, in the declared order; a secret keeps its digest (values are unreadable). */
  bindingsOf(live, declared) {
    const order = (name: string) => {
      const index = declared.findIndex((binding) => binding.name === name);
      return index === -1 ? declared.length : index;
    };
    return [...live]
      .sort((a, b) => order(a.name) - order(b.name) || a.name.localeCompare(b.name))
      .map((binding): ScriptBinding => {
        if (binding.type === "durable_object_namespace")
          return { type: binding.type, name: binding.name, className: binding.class_name ?? "" };
        if (binding.type === "plain_text")
          return { type: binding.type, name: binding.name, text: binding.text ?? "" };
        const ours = declared.find((each) => each.name === binding.name && each.type === binding.type);
        if (binding.type === "secret_text") return ours ?? { type: binding.type, name: binding.name };
        // A binding of a type this program never declares (a KV namespace, say): drift the next up removes.
        return binding as unknown as ScriptBinding;
      });
  },

  /** Pure: the namespace of the container class's Durable Object binding, as Cloudflare reports it. */
  namespaceOf(live, containerClass) {
    return live.find(
      (binding) => binding.type === "durable_object_namespace" && binding.class_name === containerClass,
    )?.namespace_id;
  },

  objectKey(inputs) {
    return `worker ${inputs.accountId}/${inputs.scriptName}`;
  },

  async diff(_id: string, olds: WorkerScriptOutputs, news: WorkerScriptInputs) {
    const { changedInputs, declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const { changed, unknown } = changedInputs(olds, news, NOT_DEPLOYED);
    const replaces = changed.filter((key) => key === "accountId" || key === "scriptName");
    if (replaces.length === 0) declareObject(this.objectKey(olds));
    // State an older provider wrote is rewritten once, with no upload (see update).
    const stale = olds.stateVersion !== WORKER_STATE_VERSION;
    // A value still unknown (a new generation, in a preview) is an upload in the up: an update, never a
    // replace. A new name or account is another Worker: both can exist, so the old one goes after the new
    // one is up.
    return {
      changes: changed.length > 0 || unknown.length > 0 || stale,
      replaces,
      deleteBeforeReplace: false,
    };
  },

  async read(id: string, props: WorkerScriptOutputs) {
    try {
      const settings = await this.cloudflare(props, "reading the Worker's settings", (client) =>
        client.workers.scripts.scriptAndVersionSettings.get(props.scriptName, {
          account_id: props.accountId,
        }),
      );
      const live = (settings.bindings ?? []) as unknown as LiveBinding[];
      return {
        id,
        props: {
          ...props,
          bindings: this.bindingsOf(live, props.bindings),
          compatibilityDate: settings.compatibility_date ?? "",
          compatibilityFlags: settings.compatibility_flags ?? [],
          namespaceId: this.namespaceOf(live, props.containerClass) ?? "",
          stateVersion: WORKER_STATE_VERSION,
        },
      };
    } catch (error) {
      // Deleted outside this program: an empty id drops it from the state, and the next up uploads it.
      if ((error as ServiceError).status === 404) return { id: "", props: {} };
      throw error;
    }
  },

  async create(inputs: WorkerScriptInputs) {
    const { declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    declareObject(this.objectKey(inputs));
    const outs = await this.upload(inputs);
    return { id: inputs.scriptName, outs: { ...outs, stateVersion: WORKER_STATE_VERSION } };
  },

  async update(_id: string, olds: WorkerScriptOutputs, news: WorkerScriptInputs) {
    const { changedInputs, declareObject } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    declareObject(this.objectKey(news));
    // Only the state changed (an older provider wrote it): keep what is deployed, upload nothing.
    if (changedInputs(olds, news, NOT_DEPLOYED).changed.length === 0) {
      const { namespaceId, migrationTag, workersDevUrl } = olds;
      return {
        outs: { ...news, namespaceId, migrationTag, workersDevUrl, stateVersion: WORKER_STATE_VERSION },
      };
    }
    return { outs: { ...(await this.upload(news)), stateVersion: WORKER_STATE_VERSION } };
  },

  async delete(id: string, olds: WorkerScriptOutputs) {
    const { declaredByProgram } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    // Renamed in code without an alias: the new resource uploaded this same Worker in this run.
    if (declaredByProgram(this.objectKey(olds))) return;
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
