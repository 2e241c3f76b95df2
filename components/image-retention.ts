import * as pulumi from "@pulumi/pulumi";
import { type ImageRetentionInputs, imageRetentionProvider } from "./image-retention-provider";

/** Every field of the provider's inputs (see image-retention-provider.ts), as Pulumi inputs. */
export type ImageRetentionArgs = {
  [key in keyof ImageRetentionInputs]: pulumi.Input<ImageRetentionInputs[key]>;
};

/**
 * Keeps the registry bounded: after a verified deploy, deletes this application's images except the
 * `keep` most recently deployed, the current one always among them.
 */
export class ImageRetention extends pulumi.dynamic.Resource {
  /** Deployed tags kept, newest first. */
  declare readonly kept: pulumi.Output<string[]>;
  declare readonly deleted: pulumi.Output<string[]>;

  constructor(name: string, args: ImageRetentionArgs, opts?: pulumi.CustomResourceOptions) {
    super(
      imageRetentionProvider,
      name,
      { ...args, kept: undefined, deleted: undefined },
      opts,
      "spectral",
      "ImageRetention",
    );
  }
}
