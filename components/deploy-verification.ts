import * as pulumi from "@pulumi/pulumi";
import { CUTOVER_STATUS_PATH } from "../worker/src/cutover";
import { type DeployVerificationInputs, deployVerificationProvider } from "./deploy-verification-provider";

/** Every field of the provider's inputs (see deploy-verification-provider.ts), as Pulumi inputs. */
export type DeployVerificationArgs = {
  [key in keyof Omit<DeployVerificationInputs, "statusPath">]: pulumi.Input<DeployVerificationInputs[key]>;
};

/**
 * The deploy's own verdict: after the Worker and the container application, `pulumi up` succeeds only when
 * every instance serves the generation and image commit this update deployed (the Worker's cutover
 * status) and `<url>/health` reports them; it fails at once when an instance could not start them.
 */
export class DeployVerification extends pulumi.dynamic.Resource {
  /** The generation the API was serving when the deploy was verified. */
  declare readonly servingGeneration: pulumi.Output<number>;

  constructor(name: string, args: DeployVerificationArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      deployVerificationProvider,
      name,
      { ...args, statusPath: CUTOVER_STATUS_PATH, servingGeneration: undefined, verifiedAt: undefined },
      opts,
      "spectral",
      "DeployVerification",
    );
  }
}
