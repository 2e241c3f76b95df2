import * as pulumi from "@pulumi/pulumi";
import type { CallLimits } from "@spectral/provider-support";
import {
  type CodeUpdateStrategy,
  type DurableObjectMigration,
  type ScriptBinding,
  SECRET_INPUT_PREFIX,
  workerScriptProvider,
} from "./worker-script-provider";

/** A binding whose fields may be Outputs (a generation, a value read from the secrets). */
export type ScriptBindingInput = ScriptBinding extends infer B
  ? B extends ScriptBinding
    ? { [K in keyof B]: pulumi.Input<B[K]> }
    : never
  : never;

export interface WorkerScriptArgs {
  /** Cloudflare account that owns the Worker. */
  accountId: pulumi.Input<string>;
  /** The Worker's script name. */
  scriptName: pulumi.Input<string>;
  /** The module's file name and its source. */
  mainModule: pulumi.Input<string>;
  code: pulumi.Input<string>;
  /** Workers runtime compatibility date and flags. */
  compatibilityDate: pulumi.Input<string>;
  compatibilityFlags: pulumi.Input<string[]>;
  /** Every binding by name and type, with plain values; secret ones have their value in `secrets`. */
  bindings: ScriptBindingInput[];
  /** Each secret_text binding's value by binding name; each becomes a secret of its own. */
  secrets: Record<string, pulumi.Input<string>>;
  /** The Durable Object class that runs the container (`containers: [{ class_name }]`). */
  containerClass: pulumi.Input<string>;
  /** Every Durable Object migration, oldest first; only those after the Worker's tag are sent. */
  migrations: DurableObjectMigration[];
  /** How running Durable Objects pick up a new upload (`code_update_strategy`). */
  codeUpdateStrategy: CodeUpdateStrategy;
  /** Time bounds of each Cloudflare call (defaults: 30 s a request, 60 s of retries). */
  callLimits?: CallLimits;
}

/**
 * The Worker, uploaded whole through the script upload (see the provider). Plans and previews show every
 * binding's name and type, and each secret as its own `secret_<NAME>` input: a rotation shows which
 * binding changed, never a value. An unchanged Worker uploads nothing.
 */
export class WorkerScript extends pulumi.dynamic.Resource {
  /** The Durable Object namespace Cloudflare assigned to the container class. */
  declare readonly namespaceId: pulumi.Output<string>;
  declare readonly migrationTag: pulumi.Output<string | null>;
  /** https://<script>.<account subdomain>.workers.dev (answers once the subdomain is enabled). */
  declare readonly workersDevUrl: pulumi.Output<string>;

  constructor(name: string, args: WorkerScriptArgs, opts?: pulumi.CustomResourceOptions) {
    const { secrets, ...rest } = args;
    const secretInputs = Object.fromEntries(
      Object.entries(secrets).map(([binding, value]) => [
        `${SECRET_INPUT_PREFIX}${binding}`,
        pulumi.secret(value),
      ]),
    );
    super(
      workerScriptProvider,
      name,
      { ...rest, ...secretInputs, namespaceId: undefined, migrationTag: undefined, workersDevUrl: undefined },
      { ...opts, additionalSecretOutputs: Object.keys(secretInputs) },
      "spectral",
      "WorkerScript",
    );
  }
}
