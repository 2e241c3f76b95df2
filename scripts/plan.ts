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

const USAGE = `usage: pnpm plan [--stack NAME] [--json]

The offline plan: the program under Pulumi's mock runtime in preview mode, with config from
Pulumi.<NAME>.yaml (default alpha). No credentials, network, Docker or database; nothing is created.
  --stack NAME  plan Pulumi.NAME.yaml
  --json        print the plan as JSON
  --help        print this
`;

/** A mistake in the command line: one line and exit 2, as command-line tools do. */
class UsageError extends Error {}

function parseCommandLine(): { stack: string; json: boolean } | "help" {
  let parsed: ReturnType<typeof parseArgs<{ options: Record<string, { type: "string" | "boolean" }> }>>;
  try {
    parsed = parseArgs({
      options: { stack: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean" } },
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message.split("\n")[0]} (see pnpm plan --help)`);
  }
  const { values } = parsed;
  if (values.help) return "help";
  if (values.stack === "") throw new UsageError("--stack needs a stack name (see pnpm plan --help)");
  return { stack: (values.stack as string | undefined) ?? "alpha", json: values.json === true };
}

async function main(): Promise<void> {
  const command = parseCommandLine();
  if (command === "help") {
    process.stdout.write(USAGE);
    return;
  }
  // The plan never reads 1Password or a local file: every secret value is a placeholder.
  if (process.env[SOURCE_VARIABLE] && process.env[SOURCE_VARIABLE] !== "placeholder")
    process.stderr.write(
      `plan: notice: ${SOURCE_VARIABLE}=${process.env[SOURCE_VARIABLE]} is ignored; the offline plan uses placeholder values\n`,
    );
  process.env[SOURCE_VARIABLE] = "placeholder";
  const { stack, json } = command;
  const stackFile = readStackFile(PROJECT_DIR, stack);
  for (const notice of stackFile.notices)
    process.stderr.write(`plan: notice: Pulumi.${stack}.yaml: ${notice}\n`);
  const run = await runProgram({ stack, preview: true, ...stackFile }, async () => require("../index"));
  const plan = buildPlan(PROJECT, stack, run);
  process.stdout.write(json ? `${JSON.stringify(plan, null, 2)}\n` : renderPlanText(plan));
}

function isOperatorError(error: unknown): error is Error {
  return (
    error instanceof ConfigError || error instanceof StackFileError || error instanceof SecretSourceError
  );
}

main().catch((error: unknown) => {
  if (error instanceof UsageError) {
    process.stderr.write(`plan: ${error.message}\n`);
    process.exit(2);
  }
  // Operator errors are already worded; anything else is a bug, and only then is the stack trace useful.
  process.stderr.write(
    `plan: ${isOperatorError(error) ? error.message : ((error as Error)?.stack ?? String(error))}\n`,
  );
  process.exit(1);
});
