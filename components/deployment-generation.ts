import * as pulumi from "@pulumi/pulumi";
import { deploymentGenerationProvider } from "./deployment-generation-provider";

export interface DeploymentGenerationArgs {
  /** The Pulumi stack deploying, e.g. `alpha`. */
  stack: pulumi.Input<string>;
  /** The service the generation stamps; the collapsed app container is `app`. */
  service: pulumi.Input<string>;
  /** Digest reference of the image being deployed. */
  imageDigest: pulumi.Input<string>;
  /** Commit the image was built from. */
  gitSha: pulumi.Input<string>;
  /** sha256 over every deploy input whose change means a new deployment (image, secrets, container settings). */
  fingerprint: pulumi.Input<string>;
  /**
   * How to reach the deploy database: `{ reference }` (1Password; the provider reads the URL when it
   * allocates, so it never enters state) or `{ url }` (a dev stack's local file; kept as a secret).
   */
  database: { reference: string } | { url: pulumi.Input<string> };
  /** PEM root CA the database's certificate must chain to (Supabase's own); "" trusts Node's store only. */
  databaseCa?: pulumi.Input<string>;
  /** Seconds to wait for a connection before reporting the database unreachable (default 10). */
  connectTimeoutSeconds?: pulumi.Input<number>;
}

/**
 * One row of `core.deployments`, allocated with `INSERT ... RETURNING generation` during `pulumi up` and
 * never in preview (the generation is unknown there). Identical inputs allocate nothing; any change
 * replaces the resource and so allocates a new, larger generation. Deleting it keeps the row.
 */
export class DeploymentGeneration extends pulumi.dynamic.Resource {
  /** The allocated generation: the container's SPECTRAL_GENERATION. */
  declare readonly generation: pulumi.Output<number>;

  constructor(name: string, args: DeploymentGenerationArgs, opts?: pulumi.CustomResourceOptions) {
    const { database, ...deployment } = args;
    super(
      deploymentGenerationProvider,
      name,
      {
        ...deployment,
        ...("url" in database
          ? { databaseUrl: pulumi.secret(database.url) }
          : { databaseUrlReference: database.reference }),
        generation: undefined,
        deployedBy: undefined,
        createdAt: undefined,
      },
      { ...opts, additionalSecretOutputs: ["databaseUrl"] },
      "spectral",
      "DeploymentGeneration",
    );
  }
}
