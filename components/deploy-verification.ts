import * as pulumi from "@pulumi/pulumi";
import { type DeployVerificationInputs, deployVerificationProvider } from "./deploy-verification-provider";

/** Every field of the provider's inputs (see deploy-verification-provider.ts), as Pulumi inputs. */
export type DeployVerificationArgs = {
  [key in keyof DeployVerificationInputs]: pulumi.Input<DeployVerificationInputs[key]>;
};

/**
 * The deploy's own verdict: after the Worker and the container application, `pulumi up` succeeds only when
 * `<url>/health` reports the generation and image commit this update deployed.
 */
export class DeployVerification extends pulumi.dynamic.Resource {
  /** The generation the API was serving when the deploy was verified. */
  declare readonly servingGeneration: pulumi.Output<number>;

  constructor(name: string, args: DeployVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      deployVerificationProvider,
      name,
      { ...args, servingGeneration: undefined, verifiedAt: undefined },
      opts,
      "spectral",
      "DeployVerification",
    );
  }
}
