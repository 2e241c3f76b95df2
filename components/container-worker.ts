import { createHash } from "node:crypto";
import * as cloudflare from "@pulumi/cloudflare";
import * as pulumi from "@pulumi/pulumi";
import type { WorkerBinding } from "../lib/secrets/bindings";
import { GENERATION_BINDING } from "../lib/secrets/container-contract";
import { bundleWorker, WORKER_MODULE } from "../lib/worker/bundle";
import { DurableObjectMigrations } from "./durable-object-migrations";
import type { DurableObjectMigration } from "./durable-object-migrations-provider";

/** The Durable Object class that owns the container, exported by worker/src/index.ts. */
export const CONTAINER_CLASS = "SpectralApp";
/** Every migration of the Worker's Durable Objects, oldest first. Append only: never edit or remove one. */
export const DURABLE_OBJECT_MIGRATIONS: DurableObjectMigration[] = [
  // Containers need SQLite-backed Durable Objects.
  { tag: "v1", newSqliteClasses: [CONTAINER_CLASS] },
];

export interface ContainerWorkerArgs {
  /** Cloudflare account that owns the Worker. */
  accountId: string;
  /** The Worker's script name. */
  workerName: string;
  /** Workers runtime compatibility date. */
  compatibilityDate: string;
  /** Workers runtime compatibility flags. */
  compatibilityFlags: string[];
  /** How long an idle container lives, e.g. "10m". */
  sleepAfter: string;
  /** The container's secret bindings (one secret_text each, plus the plain-text layout); a Pulumi secret. */
  secretBindings: pulumi.Output<WorkerBinding[]>;
  /** The deployment generation the container runs: the plain-text SPECTRAL_GENERATION binding. */
  generation: pulumi.Input<number>;
  /** The repository checkout holding worker/src (bundled during the program run). */
  repoRoot: string;
}

/**
 * The Worker that fronts the app container and carries its secrets (the secret hop): a Worker, one
 * immutable WorkerVersion per change of code, bindings or generation, and a deployment sending all
 * traffic to it. The bundle is deterministic, so a no-op update creates no version.
 */
export class ContainerWorker extends pulumi.ComponentResource {
  /** The Worker version now serving 100% of traffic. */
  public readonly versionId: pulumi.Output<string>;
  /** The Durable Object class whose namespace the container application binds to. */
  public readonly className = CONTAINER_CLASS;

  constructor(name: string, args: ContainerWorkerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:cloudflare:ContainerWorker", name, {}, opts);
    const bundle = bundleWorker(args.repoRoot);
    const worker = new cloudflare.Worker(
      `${name}-worker`,
      { accountId: args.accountId, name: args.workerName, observability: { enabled: true } },
      { parent: this },
    );
    const bindings = versionBindings(args);
    const migrations = this.pendingMigrations(name, args, bundle.sha256, bindings);
    const version = new cloudflare.WorkerVersion(
      `${name}-version`,
      {
        accountId: args.accountId,
        workerId: worker.id,
        compatibilityDate: args.compatibilityDate,
        compatibilityFlags: args.compatibilityFlags,
        mainModule: WORKER_MODULE,
        modules: [
          {
            name: WORKER_MODULE,
            contentType: "application/javascript+module",
            contentBase64: Buffer.from(bundle.code).toString("base64"),
          },
        ],
        bindings,
        containers: [{ className: CONTAINER_CLASS }],
        migrations,
      },
      { parent: this },
    );
    new cloudflare.WorkersDeployment(
      `${name}-deployment`,
      {
        accountId: args.accountId,
        scriptName: args.workerName,
        strategy: "percentage",
        versions: [{ percentage: 100, versionId: version.id }],
      },
      { parent: this },
    );
    this.versionId = version.id;
    this.registerOutputs({ versionId: this.versionId });
  }

  /** Migrations not yet applied to the Worker, decided once per new version (see the provider). */
  private pendingMigrations(
    name: string,
    args: ContainerWorkerArgs,
    bundleHash: string,
    bindings: pulumi.Output<unknown[]>,
  ): pulumi.Output<cloudflare.types.input.WorkerVersionMigrations | undefined> {
    const versionHash = pulumi
      .all([bindings, args.compatibilityDate, args.compatibilityFlags])
      .apply(([resolved, date, flags]) =>
        createHash("sha256")
          .update(JSON.stringify([bundleHash, resolved, date, flags, CONTAINER_CLASS]))
          .digest("hex"),
      );
    const plan = new DurableObjectMigrations(
      `${name}-migrations`,
      {
        accountId: args.accountId,
        scriptName: args.workerName,
        history: DURABLE_OBJECT_MIGRATIONS,
        versionHash,
      },
      { parent: this },
    );
    return plan.pending.apply((pending) => pending ?? undefined);
  }
}

/** The Durable Object binding, the container's settings, the generation, and every secret. */
function versionBindings(
  args: ContainerWorkerArgs,
): pulumi.Output<cloudflare.types.input.WorkerVersionBinding[]> {
  return pulumi
    .all([args.secretBindings, args.generation])
    .apply(([secrets, generation]) => [
      { type: "durable_object_namespace", name: "SPECTRAL_APP", className: CONTAINER_CLASS },
      { type: "plain_text", name: "SPECTRAL_SLEEP_AFTER", text: args.sleepAfter },
      { type: "plain_text", name: GENERATION_BINDING, text: String(generation) },
      ...secrets,
    ]);
}
