import * as pulumi from "@pulumi/pulumi";
import {
  type DurableObjectMigration,
  durableObjectMigrationsProvider,
  type PendingMigrations,
} from "./durable-object-migrations-provider";

export interface DurableObjectMigrationsArgs {
  /** Cloudflare account that owns the Worker. */
  accountId: pulumi.Input<string>;
  /** The Worker's script name. */
  scriptName: pulumi.Input<string>;
  /** Every migration the Worker has had, oldest first. */
  history: DurableObjectMigration[];
  /** Hash of everything else the next Worker version is made of (a secret: it covers secret values). */
  versionHash: pulumi.Input<string>;
}

/**
 * The Durable Object migrations one Worker version must carry: read from the Worker's deployed tag when
 * the version is about to be created, then kept, so an unchanged version stays unchanged.
 */
export class DurableObjectMigrations extends pulumi.dynamic.Resource {
  /** The migrations to send, or null when the Worker has them all. */
  declare readonly pending: pulumi.Output<PendingMigrations | null>;

  constructor(name: string, args: DurableObjectMigrationsArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      durableObjectMigrationsProvider,
      name,
      { ...args, versionHash: pulumi.secret(args.versionHash), pending: undefined },
      opts,
      "spectral",
      "DurableObjectMigrations",
    );
  }
}
