import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { CallLimits } from "@spectral/provider-support";
import { bindingDigest } from "../lib/deploy/fingerprint";
import type { WorkerBinding } from "../lib/secrets/bindings";
import { GENERATION_BINDING } from "../lib/secrets/container-contract";
import { bundleWorker, WORKER_MODULE } from "../lib/worker/bundle";
import { type ScriptBindingInput, WorkerScript, type WorkerScriptArgs } from "./worker-script";
import type { CodeUpdateStrategy, DurableObjectMigration } from "./worker-script-provider";

/** The Durable Object class that owns the container, exported by worker/src/index.ts. */
export const CONTAINER_CLASS = "SpectralApp";
/** Every migration of the Worker's Durable Objects, oldest first. Append only: never edit or remove one. */
export const DURABLE_OBJECT_MIGRATIONS: DurableObjectMigration[] = [
  // Containers need SQLite-backed Durable Objects.
  { tag: "v1", newSqliteClasses: [CONTAINER_CLASS] },
];
/**
 * Running Durable Objects take a new upload at once. Cloudflare's default defers it up to 300 s for an
 * active object, and the wake schedule keeps ours active, so each would hold the old generation that long, past
 * most of the deploy's verification (platform facts, "Durable Objects defer code updates"). Deferring buys
 * nothing here: the new code's first act is to restart the container for the new generation anyway.
 */
export const CODE_UPDATE_STRATEGY: CodeUpdateStrategy = { mode: "immediate" };

export interface ContainerWorkerArgs {
  /** Cloudflare account that owns the Worker. */
  accountId: string;
  /** The Worker's script name. */
  workerName: string;
  /** Workers runtime compatibility date and flags. */
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** How long an idle container lives, e.g. "10m". */
  sleepAfter: string;
  /** Named container instances serving the API; the wake schedule keeps each awake. */
  instances: number;
  /** How long a new generation's container may take to answer /health with 200 before it is abandoned. */
  startTimeoutSeconds: number;
  /** The container's bindings by name and type (workerBindingSlots), known before any value. */
  bindingSlots: Pick<WorkerBinding, "type" | "name">[];
  /** The same bindings with their values (workerSecretBindings); a Pulumi secret. */
  secretBindings: pulumi.Output<WorkerBinding[]>;
  /** Keys each secret binding's digest, which shows a change without the value (a Pulumi secret). */
  digestKey: pulumi.Output<string>;
  /** The deployment generation the container must run: the plain-text SPECTRAL_GENERATION binding. */
  generation: pulumi.Input<number>;
  /** The commit the image was built from: the container's /health must report it. */
  gitSha: pulumi.Input<string>;
  /** Enable the workers.dev subdomain. */
  workersDev: boolean;
  /** A custom domain to serve on, or "" for none. */
  customDomain: string;
  /** The repository checkout holding worker/src (bundled during the program run). */
  repoRoot: string;
  /** Time bounds of each Cloudflare call the upload makes. */
  callLimits?: CallLimits;
  /** How running Durable Objects take the upload; CODE_UPDATE_STRATEGY unless a test proves another. */
  codeUpdateStrategy?: CodeUpdateStrategy;
}

/**
 * The Worker that fronts the app container and carries its secrets (the secret hop): the script, uploaded
 * whole with its container class and migrations, and its workers.dev subdomain and custom domain. Its
 * wake cron is a WakeSchedule of its own, made once the container application exists.
 */
export class ContainerWorker extends pulumi.ComponentResource {
  /** The Durable Object namespace of the container class: the container application binds to it. */
  public readonly namespaceId: pulumi.Output<string>;
  /** Whose namespace that is, `<worker>/<class>`: known before the upload, so previews can use it. */
  public readonly namespaceOwner: string;
  /** Where the API answers: the custom domain if set, else workers.dev. */
  public readonly url: pulumi.Output<string>;

  constructor(name: string, args: ContainerWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:cloudflare:ContainerWorker", name, {}, opts);
    const script = this.uploadScript(name, args);
    const routes = this.route(name, args, script);
    this.namespaceId = script.namespaceId;
    this.namespaceOwner = `${args.workerName}/${CONTAINER_CLASS}`;
    this.url = args.customDomain
      ? pulumi.output(`https://${args.customDomain}`)
      : pulumi.all([script.workersDevUrl, ...routes.map((route) => route.urn)]).apply(([url]) => url);
    this.registerOutputs({
      namespaceId: this.namespaceId,
      namespaceOwner: this.namespaceOwner,
      url: this.url,
    });
  }

  private uploadScript(name: string, args: ContainerWorkerArgs): WorkerScript {
    return new WorkerScript(`${name}-script`, containerWorkerScriptArgs(args), { parent: this });
  }

  /** The workers.dev subdomain (on or off, as configured) and the optional custom domain. */
  private route(name: string, args: ContainerWorkerArgs, script: WorkerScript): pulumi.Resource[] {
    const subdomain = new cloudflare.WorkersScriptSubdomain(
      `${name}-workers-dev`,
      {
        accountId: args.accountId,
        scriptName: args.workerName,
        enabled: args.workersDev,
        previewsEnabled: false,
      },
      { parent: this, dependsOn: [script] },
    );
    if (!args.customDomain) return [subdomain];
    const domain = new cloudflare.WorkersCustomDomain(
      `${name}-domain`,
      { accountId: args.accountId, hostname: args.customDomain, service: args.workerName },
      { parent: this, dependsOn: [script] },
    );
    return [subdomain, domain];
  }
}

/** Pure: the Worker's plain-text settings, by binding name (the parity tests give wrangler the same). */
export function settingBindings<Text>(settings: {
  sleepAfter: string;
  instances: number;
  startTimeoutSeconds: number;
  generation: Text;
  gitSha: Text;
}) {
  return [
    { type: "plain_text" as const, name: "SPECTRAL_SLEEP_AFTER", text: settings.sleepAfter },
    { type: "plain_text" as const, name: "SPECTRAL_INSTANCES", text: String(settings.instances) },
    {
      type: "plain_text" as const,
      name: "SPECTRAL_START_TIMEOUT_SECONDS",
      text: String(settings.startTimeoutSeconds),
    },
    { type: "plain_text" as const, name: GENERATION_BINDING, text: settings.generation },
    { type: "plain_text" as const, name: "SPECTRAL_GIT_SHA", text: settings.gitSha },
  ];
}

/**
 * What the Worker upload carries: the bundle, the Durable Object binding, the container's settings, the
 * generation and image commit, and every container binding (secret ones by name with a keyed digest,
 * their values in `secrets`). Shared by ContainerWorker and the engine suite's program.
 */
export function containerWorkerScriptArgs(
  args: Omit<ContainerWorkerArgs, "workersDev" | "customDomain">,
): WorkerScriptArgs {
  const bundle = bundleWorker(args.repoRoot);
  const bindingText = (binding: string) =>
    args.secretBindings.apply((all) => all.find((each) => each.name === binding)?.text ?? "");
  // Keyed, so it says nothing about the value: safe to show in plans, previews and state.
  const digestOf = (binding: string) =>
    pulumi.unsecret(
      pulumi
        .all([bindingText(binding), args.digestKey])
        .apply(([text, key]) => bindingDigest(key, { name: binding, text })),
    );
  const bindings: ScriptBindingInput[] = [
    { type: "durable_object_namespace", name: "SPECTRAL_APP", className: CONTAINER_CLASS },
    ...settingBindings({
      sleepAfter: args.sleepAfter,
      instances: args.instances,
      startTimeoutSeconds: args.startTimeoutSeconds,
      generation: pulumi.output(args.generation).apply(String),
      gitSha: args.gitSha,
    }),
    ...args.bindingSlots.map(
      (slot): ScriptBindingInput =>
        slot.type === "secret_text"
          ? { type: "secret_text", name: slot.name, digest: digestOf(slot.name) }
          : { type: "plain_text", name: slot.name, text: pulumi.unsecret(bindingText(slot.name)) },
    ),
  ];
  const secrets = Object.fromEntries(
    args.bindingSlots
      .filter((slot) => slot.type === "secret_text")
      .map((slot) => [slot.name, bindingText(slot.name)]),
  );
  return {
    accountId: args.accountId,
    scriptName: args.workerName,
    mainModule: WORKER_MODULE,
    code: bundle.code,
    compatibilityDate: args.compatibilityDate,
    compatibilityFlags: args.compatibilityFlags,
    bindings,
    secrets,
    containerClass: CONTAINER_CLASS,
    migrations: DURABLE_OBJECT_MIGRATIONS,
    codeUpdateStrategy: args.codeUpdateStrategy ?? CODE_UPDATE_STRATEGY,
    callLimits: args.callLimits,
  };
}
