/**
 * `pnpm plan [--stack alpha] [--json]`: the offline plan. Runs the real program under the Pulumi SDK's
 * mock runtime in preview mode with config from Pulumi.<stack>.yaml: no credentials, network, Docker or
 * database, and nothing is created.
 */
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { ConfigError, PROJECT } from "../lib/config";
import { buildPlan, renderPlanText } from "../lib/plan/render";
import { runProgram } from "../lib/plan/run-program";
import { readStackFile, StackFileError } from "../lib/plan/stack-file";
import { SOURCE_VARIABLE } from "../lib/secrets/resolve";
import { SecretSourceError } from "../lib/secrets/source";

const PROJECT_DIR = resolve(__dirname, "..");

async function main(): Promise<void> {
  // The plan never reads 1Password or a local file: every secret value is a placeholder.
  process.env[SOURCE_VARIABLE] = "placeholder";
  const { values } = parseArgs({
    options: { stack: { type: "string", default: "alpha" }, json: { type: "boolean", default: false } },
  });
  const stack = values.stack;
  const stackFile = readStackFile(PROJECT_DIR, stack);
  for (const notice of stackFile.notices)
    process.stderr.write(`plan: notice: Pulumi.${stack}.yaml: ${notice}\n`);
  const run = await runProgram({ stack, preview: true, ...stackFile }, async () => require("../index"));
  const plan = buildPlan(PROJECT, stack, run);
  process.stdout.write(values.json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlanText(plan));
}

function isOperatorError(error: unknown): error is Error {
  return (
    error instanceof ConfigError ||
    error instanceof StackFileError ||
    error instanceof SecretSourceError ||
    (error as { code?: string } | null)?.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION"
  );
}

main().catch((error: unknown) => {
  // Operator errors are already worded; anything else is a bug, and only then is the stack trace useful.
  process.stderr.write(
    `plan: ${isOperatorError(error) ? error.message : ((error as Error)?.stack ?? String(error))}\n`,
  );
  process.exit(1);
});
