/**
 * The child's side of a lifecycle run (ts-node-host.js loads it through ts-node): one Pulumi operation on
 * the engine program's stack, in the sandbox the parent made, and what the engine reported.
 */
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { EngineSandbox } from "./harness";
import { type EngineInputs, engineProgram } from "./program";

export type Operation = "up" | "preview" | "refresh" | "refresh-clear-pending" | "destroy" | "cancel";

export interface LifecycleJob {
  operation: Operation;
  sandboxDir: string;
  stack: string;
  inputs: EngineInputs;
  /** What the providers read from the environment. */
  env: Record<string, string>;
}

export interface LifecycleResult {
  /** The engine's count per change kind: an up's resourceChanges, a preview's changeSummary. */
  changes?: Record<string, number>;
  outputs?: Record<string, unknown>;
  /**
   * Each step the engine took (or, in a preview, would take): "<Type>::<name> <op>", sorted. In a refresh,
   * what it found: same, update (drift) or delete (gone).
   */
  steps?: string[];
  /** The CLI's own words (a failure's message included). */
  stdout?: string;
  error?: string;
}

export async function runJob(job: LifecycleJob): Promise<LifecycleResult> {
  const sandbox = new EngineSandbox(job.sandboxDir);
  const stack = await sandbox.inlineStack(job.stack, engineProgram(job.inputs), job.env);
  const steps: string[] = [];
  const onEvent = (event: EngineEvent) => {
    // A refresh's step is "refresh" for every resource: what it found (same, update, delete) shows in the
    // outputs event.
    const step = job.operation.startsWith("refresh")
      ? event.resOutputsEvent?.metadata
      : event.resourcePreEvent?.metadata;
    if (!step || step.urn.includes("pulumi:pulumi:Stack") || step.urn.includes("pulumi:providers:")) return;
    const [type, name] = step.urn.split("::").slice(-2);
    steps.push(`${type.split(":").at(-1)}::${name} ${step.op}`);
  };
  const stepsTaken = () => steps.sort();
  try {
    switch (job.operation) {
      case "preview": {
        const preview = await stack.preview({ diff: true, onEvent });
        return { changes: preview.changeSummary, steps: stepsTaken(), stdout: preview.stdout };
      }
      case "up": {
        const up = await stack.up({ onEvent });
        const outputs = Object.fromEntries(
          Object.entries(up.outputs).map(([key, { value }]) => [key, value]),
        );
        return { changes: up.summary.resourceChanges, outputs, steps: stepsTaken(), stdout: up.stdout };
      }
      case "refresh":
      case "refresh-clear-pending": {
        const refresh = await stack.refresh({
          clearPendingCreates: job.operation === "refresh-clear-pending",
          onEvent,
        });
        return { changes: refresh.summary.resourceChanges, steps: stepsTaken(), stdout: refresh.stdout };
      }
      case "destroy": {
        const destroy = await stack.destroy({ onEvent });
        return { changes: destroy.summary.resourceChanges, steps: stepsTaken(), stdout: destroy.stdout };
      }
      case "cancel":
        await stack.cancel();
        return {};
    }
  } catch (error) {
    return { error: (error as Error).message };
  }
}
