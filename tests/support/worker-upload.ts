/** What `pulumi up` uploads for the alpha Worker, taken from an update of the whole program under mocks. */
import type { ScriptBinding } from "../../components/worker-script-provider";
import { devStackEnv, recordRun, registered } from "./record";

export type Binding = ScriptBinding & { text?: string };

export interface WorkerUpload {
  code: string;
  compatibilityDate: string;
  /** WorkerScript's bindings, each secret's value filled in from its own input. */
  bindings: Binding[];
}

export function programUpload(): WorkerUpload {
  const run = recordRun(devStackEnv());
  // biome-ignore lint/suspicious/noExplicitAny: recorded inputs are JSON.
  const inputs = registered(run, "pulumi-nodejs:dynamic/spectral:WorkerScript").inputs as Record<string, any>;
  const bindings = (inputs.bindings as Binding[]).map((binding) =>
    binding.type === "secret_text"
      ? { ...binding, text: inputs[`secret_${binding.name}`].secret as string }
      : binding,
  );
  return { code: inputs.code, compatibilityDate: inputs.compatibilityDate, bindings };
}

/** The bindings with some texts changed: a new deploy's. */
export function withText(bindings: Binding[], changes: Record<string, string>): Binding[] {
  return bindings.map((binding) =>
    binding.name in changes ? { ...binding, text: changes[binding.name] } : binding,
  );
}

/** The Worker's env as its bindings give it: what containerEnvVars reads. */
export function envOf(bindings: Binding[]): Record<string, string> {
  return Object.fromEntries(
    bindings
      .filter((binding) => binding.type !== "durable_object_namespace")
      .map((b) => [b.name, b.text ?? ""]),
  );
}
