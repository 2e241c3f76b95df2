import * as pulumi from "@pulumi/pulumi";
import {
  type ContainerApplicationInputs,
  containerApplicationProvider,
} from "./container-application-provider";

/** Every field of the provider's inputs (see container-application-provider.ts), as Pulumi inputs. */
export type ContainerApplicationArgs = {
  [key in keyof ContainerApplicationInputs]: pulumi.Input<ContainerApplicationInputs[key]>;
};

/**
 * The Cloudflare Containers application that runs the app image for the Worker's Durable Object namespace.
 * A new image or instance type rolls out in the configured steps, and `pulumi up` waits for the rollout to
 * complete; a new generation alone changes nothing here (the Durable Object restarts its container).
 */
export class ContainerApplication extends pulumi.dynamic.Resource {
  declare readonly applicationId: pulumi.Output<string>;
  /** The rollout the last change started (null when none was needed). */
  declare readonly rolloutId: pulumi.Output<string | null>;

  constructor(name: string, args: ContainerApplicationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      containerApplicationProvider,
      name,
      { ...args, applicationId: undefined, rolloutId: undefined, adopted: undefined },
      opts,
      "spectral",
      "ContainerApplication",
    );
  }
}
