/**
 * How every suite that cannot run here says so: loudly, as `SKIPPED: <what>: <reason>`, and under CI
 * (`CI=true`) not at all: there the run fails instead, since our CI machines must run every suite.
 */
export function skipLoudly(what: string, reason: string, howToSkipOnPurpose = ""): string {
  if (process.env.CI === "true")
    throw new Error(`${what} cannot run: ${reason}${howToSkipOnPurpose && ` (${howToSkipOnPurpose})`}`);
  console.warn(`\nSKIPPED: ${what}: ${reason}\n`);
  return reason;
}
