/**
 * Runs the real program (index.ts) once under the mock runtime and returns what it declared.
 */
import * as pulumi from "@pulumi/pulumi";
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
  loadProgram: () => Promise<Record<string, unknown>>,
): Promise<ProgramRun> {
  const recorded = await installMockRuntime(options);
  const { waitForRPCs } = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
  const { serializeProperties } = require("@pulumi/pulumi/runtime/rpc") as {
    serializeProperties(
      label: string,
      props: Record<string, unknown>,
      opts?: { keepOutputValues?: boolean },
    ): Promise<Record<string, unknown>>;
  };
  // The same entry point the language host uses: it creates the Stack resource and parents everything to it.
  const exported = (await pulumi.runtime.runInPulumiStack(async () => ({ ...(await loadProgram()) }))) ?? {};
  const outputs = await serializeProperties("stack outputs", exported as Record<string, unknown>);
  await waitForRPCs();
  return { resources: recorded.resources, outputs };
}
