/** Runs tests/support/record-run.ts in a fresh process: one program run, as `pulumi` would make it. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { RecordedResource } from "../../lib/plan/mock-runtime";
import { REPO_ROOT } from "./alpha";
import type { RecordedRequest } from "./fake-cloudflare";

export interface RecordedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  onePasswordCalls: number;
  cloudflareRequests: RecordedRequest[];
  /** Registry passwords the fake Cloudflare handed out during the run. */
  issuedPasswords: string[];
}

/** `cwd` is the working directory Pulumi would run the program in: the checkout AppImage builds. */
export function recordRun(env: Record<string, string>, cwd = REPO_ROOT): RecordedRun {
  const result = spawnSync(
    process.execPath,
    ["--require", require.resolve("tsx/cjs"), join(REPO_ROOT, "tests/support/record-run.ts")],
    {
      cwd,
      encoding: "utf8",
      // The suite runs in working trees with uncommitted changes; the dirty-tree refusal has its own test.
      env: { ...process.env, SPECTRAL_ALLOW_DIRTY_IMAGE: "1", ...env },
    },
  );
  const parsed =
    result.status === 0
      ? JSON.parse(result.stdout)
      : { resources: [], outputs: {}, onePasswordCalls: 0, cloudflareRequests: [], issuedPasswords: [] };
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ...parsed };
}

/** The first resource of `type` the run registered; fails with the run's stderr when there is none. */
export function registered(run: RecordedRun, type: string): RecordedResource {
  const found = run.resources.find((resource) => resource.type === type);
  if (!found) throw new Error(`no ${type} registered; stderr: ${run.stderr}`);
  return found;
}
