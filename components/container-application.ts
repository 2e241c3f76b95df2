import * as pulumi from "@pulumi/pulumi";
import {
  type ContainerApplicationInputs,
  containerApplicationProvider,
} from "./container-application-provider";

export type ContainerApplicationArgs = {
  [key in keyof ContainerApplicationInputs]: pulumi.Input<ContainerApplicationInputs[key]>;
};

/**
 * The Cloudflare Containers application that runs the app image for the Worker's Durable Object class.
 * A change of image, instance type or generation rolls every container (in the configured steps), so a
 * new generation always reaches the running containers; an unchanged one touches nothing.
 */
export class ContainerApplication extends pulumi.dynamic.Resource {
  declare readonly applicationId: pulumi.Output<string>;
  /** The rollout the last change started (null when none was needed). */
  declare readonly rolloutId: pulumi.Output<string | null>;

  constructor(name: string, args: ContainerApplicationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      containerApplicationProvider,
      name,
      { ...args, applicationId: undefined, namespaceId: undefined, rolloutId: undefined, adopted: undefined },
      opts,
      "spectral",
      "ContainerApplication",
    );
  }
}
