/**
 * Runs the real program once under the mock runtime, in its own process (Node caches the program module,
 * and each `pulumi up` program run is a fresh process too), and prints one JSON document: the recorded
 * resources with secret values unwrapped for assertions, the outputs, and the 1Password calls made.
 *
 * Environment:
 *   RECORD_STACK_FILE    YAML stack file to read config from (default: Pulumi.alpha.yaml)
 *   RECORD_PREVIEW       "true" for a preview run, otherwise an update run
 *   RECORD_FAKE_1PASSWORD  "true" to swap the SDK's createClient for a double that counts secret reads and
 *                        answers every reference with `value-of:<reference>`
 */
import { dirname, resolve } from "node:path";
import { isSecretValue } from "../../lib/plan/mock-runtime";
import { runProgram } from "../../lib/plan/run-program";
import { readStackFile } from "../../lib/plan/stack-file";

let onePasswordCalls = 0;

function installCountingOnePassword(): void {
  const sdk = require("@1password/sdk") as Record<string, unknown>;
  const fake = async () => {
    return {
      secrets: {
        resolveAll: async (references: string[]) => {
          onePasswordCalls++;
          return {
            individualResponses: Object.fromEntries(
              references.map((reference) => [
                reference,
                { content: { secret: `value-of:${reference}`, itemId: "item", vaultId: "vault" } },
              ]),
            ),
          };
        },
      },
    };
  };
  Object.defineProperty(sdk, "createClient", { value: fake, configurable: true, writable: true });
  process.env.OP_SERVICE_ACCOUNT_TOKEN ??= "ops_counting-double";
}

function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return { secret: unwrapSecrets(value.value) };
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unwrapSecrets(inner)]));
  }
  return value;
}

async function main(): Promise<void> {
  const stackFile = resolve(process.env.RECORD_STACK_FILE ?? resolve(__dirname, "../../Pulumi.alpha.yaml"));
  const stack = /Pulumi\.(.+)\.yaml$/.exec(stackFile)?.[1] ?? "alpha";
  if (process.env.RECORD_FAKE_1PASSWORD === "true") installCountingOnePassword();
  const run = await runProgram(
    { stack, preview: process.env.RECORD_PREVIEW === "true", ...readStackFile(dirname(stackFile), stack) },
    async () => require("../../index"),
  );
  const resources = run.resources.map((resource) => ({
    ...resource,
    inputs: unwrapSecrets(resource.inputs),
  }));
  process.stdout.write(JSON.stringify({ resources, outputs: run.outputs, onePasswordCalls }));
}

main().catch((error: unknown) => {
  process.stderr.write(`record-run: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
