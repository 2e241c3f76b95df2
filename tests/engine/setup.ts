/**
 * vitest global setup of `pnpm test:engine`: the suites need the CLI that scripts/install-pulumi.sh builds.
 * Without it they report SKIPPED with the reason; under CI that is a failure instead.
 */

import { skipLoudly } from "../support/skip";
import { engineMissing } from "./harness";

export default function setup(): void {
  const missing = engineMissing();
  if (!missing) return;
  skipLoudly("real Pulumi engine suites", missing);
}
