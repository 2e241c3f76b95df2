/** The committed alpha stack, as the engine would hand it to the program. */
import { resolve } from "node:path";
import { stringify } from "yaml";
import { readStackFile } from "../../lib/plan/stack-file";

export const REPO_ROOT = resolve(__dirname, "../..");

export function alphaConfig(): Record<string, string> {
  return readStackFile(REPO_ROOT, "alpha").config;
}

/** The alpha config with some keys replaced (a value of `undefined` removes the key). */
export function alphaConfigWith(overrides: Record<string, string | undefined>): Record<string, string> {
  const config: Record<string, string | undefined> = { ...alphaConfig(), ...overrides };
  return Object.fromEntries(
    Object.entries(config).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

/**
 * A stack file's text as an operator would write it for the CLI: every string double-quoted, because the
 * CLI's YAML reader (gopkg.in/yaml.v3) reads an unquoted 2026-11-01 as a timestamp and 0123 as octal.
 */
export function stackFileText(document: unknown): string {
  return stringify(document, { defaultStringType: "QUOTE_DOUBLE", defaultKeyType: "PLAIN" });
}
