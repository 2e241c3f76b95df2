/** The committed alpha stack, as the engine would hand it to the program. */
import { resolve } from "node:path";
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
