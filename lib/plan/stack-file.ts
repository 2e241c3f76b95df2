/**
 * Reads `Pulumi.<stack>.yaml` into the flat string map the Pulumi engine hands a program.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export interface StackFileConfig {
  config: Record<string, string>;
  /** Keys stored as `secure:` values; the offline plan cannot decrypt them and passes a placeholder. */
  secretKeys: string[];
}

export const SECRET_PLACEHOLDER = "[secret]";

export class StackFileError extends Error {}

export function stackFilePath(projectDir: string, stack: string): string {
  return join(projectDir, `Pulumi.${stack}.yaml`);
}

export function readStackFile(projectDir: string, stack: string): StackFileConfig {
  const file = stackFilePath(projectDir, stack);
  if (!/^[A-Za-z0-9._-]+$/.test(stack)) {
    throw new StackFileError(
      `--stack ${JSON.stringify(stack)}: a stack name has letters, digits, '.', '_' and '-' only`,
    );
  }
  if (!existsSync(file)) {
    throw new StackFileError(`${file}: no such stack file; create it or pass --stack with an existing stack`);
  }
  let document: unknown;
  try {
    document = parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new StackFileError(`${file}: is not valid YAML: ${(error as Error).message.split("\n")[0]}`);
  }
  const raw = (document as { config?: unknown } | null)?.config ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new StackFileError(`${file}: 'config' must be a map of keys to values`);
  }
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const isSecure = typeof value === "object" && value !== null && "secure" in value;
    if (isSecure) secretKeys.push(key);
    // The engine passes strings through and JSON-encodes everything else.
    config[key] = isSecure ? SECRET_PLACEHOLDER : typeof value === "string" ? value : JSON.stringify(value);
  }
  return { config, secretKeys };
}
