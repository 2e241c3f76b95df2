/**
 * Runs the real program (index.ts) once under the mock runtime and returns what it declared.
 */
import * as pulumi from "@pulumi/pulumi";
import { specialSecretSig, specialSigKey, unknownValue } from "@pulumi/pulumi/runtime/rpc";
import { installMockRuntime, type MockRunOptions, type RecordedResource } from "./mock-runtime";

export interface ProgramRun {
  resources: RecordedResource[];
  /** Stack outputs as the engine would store them (secrets and unknowns in their wire form). */
  outputs: Record<string, unknown>;
}

/**
 * `loadProgram` imports the program module; it must not have been imported before in this process,
 * since Node caches modules and the program registers its resources on import.
 */
export async function runProgram(
  options: MockRunOptions,
  loadProgram: () => Promise<unknown>,
): Promise<ProgramRun> {
  const recorded = await installMockRuntime(options);
  const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  // The same entry point the language host uses: it creates the Stack resource and parents everything to it.
  // It hands back resolved values, secrets unwrapped, so keep the program's own exports.
  let exported: Record<string, unknown> = {};
  await pulumi.runtime.runInPulumiStack(async () => {
    // As the language host does: a module that exports a function is an async program; call and await it.
    const program: unknown = await loadProgram();
    exported = {
      ...((typeof program === "function" ? await program() : program) as Record<string, unknown>),
    };
    return exported;
  });
  const outputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(exported)) outputs[name] = await wireValue(pulumi.output(value));
  await waitForRPCs();
  return { resources: recorded.resources, outputs };
}

interface OutputInternals<T> {
  isKnown: Promise<boolean>;
  isSecret: Promise<boolean>;
  promise(): Promise<T>;
}

/** A stack output in the engine's wire form: secrets wrapped, unknowns as the unknown sentinel. */
async function wireValue(output: pulumi.Output<unknown>): Promise<unknown> {
  // Knownness and secretness are internal to Output; a preview's unknowns never resolve through apply.
  const internals = output as unknown as OutputInternals<unknown>;
  if (await internals.isSecret) return { [specialSigKey]: specialSecretSig, value: undefined };
  if (!(await internals.isKnown)) return unknownValue;
  return internals.promise();
}
