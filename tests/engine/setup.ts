/**
 * vitest global setup of `pnpm test:engine`: the suites need the CLI that scripts/install-pulumi.sh builds.
 * Without it they report SKIPPED with the reason; under CI that is a failure instead.
 */
import { engineMissing } from "./harness";

export default function setup(): void {
  const missing = engineMissing();
  if (!missing) return;
  if (process.env.CI === "true") throw new Error(`the real Pulumi engine suites cannot run: ${missing}`);
  console.warn(`\nSKIPPED: real Pulumi engine suites: ${missing}\n`);
}
