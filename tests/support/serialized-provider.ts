/**
 * A dynamic provider as the engine runs it: serialized by the SDK's closure serializer, loaded with
 * require-from-string in a fresh Node process whose working directory is the project.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { deploymentGenerationProvider } from "../../components/deployment-generation-provider";
import { REPO_ROOT } from "./alpha";

/** What the dynamic provider host does with `__provider`: `requireFromString(text).handler()`. */
const HOST = `
const { dirname } = require("node:path");
const requireFromString = require(require.resolve("require-from-string", { paths: [dirname(require.resolve("@pulumi/pulumi"))] }));
const [providerFile, method, argsJson] = process.argv.slice(1);
const provider = requireFromString(require("node:fs").readFileSync(providerFile, "utf8")).handler();
provider[method](...JSON.parse(argsJson)).then(
  (result) => process.stdout.write(JSON.stringify(result ?? null)),
  (error) => { process.stderr.write(String(error && error.message)); process.exit(1); },
);`;

export async function serializeProvider(
  provider: pulumi.dynamic.ResourceProvider = deploymentGenerationProvider,
): Promise<string> {
  const serialized = await pulumi.runtime.serializeFunction(() => provider, {
    allowSecrets: true,
  });
  const dir = mkdtempSync(join(tmpdir(), "serialized-provider-"));
  const file = join(dir, "provider.js");
  writeFileSync(file, serialized.text);
  return file;
}

/** Calls `method` in a fresh process; asynchronous, so a server in this process can still answer it. */
export async function callSerialized(
  providerFile: string,
  method: string,
  args: unknown[],
  env: Record<string, string> = {},
) {
  const child = spawn(process.execPath, ["-e", HOST, providerFile, method, JSON.stringify(args)], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const [status] = (await once(child, "close")) as [number | null];
  return { status, value: status === 0 ? JSON.parse(stdout) : undefined, error: stderr };
}
