/**
 * Runs the Pulumi program under the SDK's mock runtime and records every registered resource with its
 * inputs and parent. Shared by the offline plan and the tests.
 */
import * as pulumi from "@pulumi/pulumi";
import { isUnknown } from "@pulumi/pulumi/output";
import { specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { PROJECT } from "../config";

/** One resource the program registered, as the engine would have received it. */
export interface RecordedResource {
  urn: string;
  type: string;
  name: string;
  /** URN of the parent; undefined for the stack itself. */
  parent: string | undefined;
  custom: boolean;
  /** URNs this resource waits for: its dependsOn, expanded to a component's children, and its input sources. */
  dependencies: string[];
  /** Aliases as `<parent URN>::<name>` (an alias by name and parent), or the alias URN. */
  aliases: string[];
  /** Inputs as the engine saw them: secrets as `{ [specialSigKey]: specialSecretSig, value }`, unknowns as the SDK's `unknown`. */
  inputs: Record<string, unknown>;
}

export interface MockRunOptions {
  stack: string;
  /** The full config map, keys namespaced, values as strings: what `pulumi.runtime.allConfig()` returns. */
  config: Record<string, string>;
  secretKeys?: string[];
  /** Preview mode: unknown outputs stay unknown and dynamic providers' `create` never runs. */
  preview: boolean;
  /** Outputs a provider would add to a created resource's inputs; update runs only, as in a real preview. */
  providerOutputs?: (type: string, inputs: Record<string, unknown>) => Record<string, unknown>;
  /** What a data source (invoke) answers; by default its own inputs. */
  invokeOutputs?: (token: string, inputs: Record<string, unknown>) => Record<string, unknown> | undefined;
}

export interface MockRun {
  resources: RecordedResource[];
}

interface RegisterRequest {
  getParent(): string;
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getDependenciesList(): string[];
  getAliasesList(): {
    getUrn(): string;
    getSpec(): { getName(): string; getParenturn(): string } | undefined;
  }[];
}

type RegisterCallback = (err: unknown, response?: { getUrn(): string }) => void;

interface RecordingMonitor {
  registerResource(request: RegisterRequest, callback: RegisterCallback): Promise<void>;
}

/**
 * Installs the mock runtime with `options` and returns the live list of recorded resources. Call it
 * before importing the program: Pulumi reads config and the monitor when resources are constructed.
 */
export async function installMockRuntime(options: MockRunOptions): Promise<MockRun> {
  const resources: RecordedResource[] = [];
  const pendingInputs = new Map<string, Record<string, unknown>>();
  const mocks: pulumi.runtime.Mocks = {
    newResource(args) {
      pendingInputs.set(`${args.type}::${args.name}`, args.inputs);
      // As in a real preview, a resource about to be created has no id yet: the SDK makes it unknown.
      const id = options.preview || args.custom === false ? undefined : `${args.name}-id`;
      const created = options.preview ? {} : options.providerOutputs?.(args.type, args.inputs);
      return { id, state: { ...args.inputs, ...created } };
    },
    call: (args) => options.invokeOutputs?.(args.token, args.inputs) ?? args.inputs,
  };
  pulumi.runtime.setAllConfig(options.config, options.secretKeys ?? []);
  await pulumi.runtime.setMocks(mocks, PROJECT, options.stack, options.preview);

  // The mock monitor does not tell `newResource` a resource's parent, so listen where it learns it.
  const { getMonitor } = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): RecordingMonitor };
  const monitor = getMonitor();
  const register = monitor.registerResource.bind(monitor);
  monitor.registerResource = (request, callback) =>
    register(request, (err, response) => {
      if (!err && response) {
        const key = `${request.getType()}::${request.getName()}`;
        resources.push({
          urn: response.getUrn(),
          type: request.getType(),
          name: request.getName(),
          parent: request.getParent() || undefined,
          custom: request.getCustom(),
          dependencies: request.getDependenciesList(),
          aliases: request.getAliasesList().map((alias) => {
            const spec = alias.getSpec();
            return spec ? `${spec.getParenturn()}::${spec.getName()}` : alias.getUrn();
          }),
          inputs: pendingInputs.get(key) ?? {},
        });
        pendingInputs.delete(key);
      }
      callback(err, response);
    });
  return { resources };
}

export function isSecretValue(value: unknown): value is { value: unknown } {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<string, unknown>)[specialSigKey] === specialSecretSig
  );
}

/** Unknowns reach `newResource` deserialized (the SDK's `unknown` sentinel) and stack outputs serialized. */
export function isUnknownValue(value: unknown): boolean {
  return value === unknownValue || isUnknown(value);
}
