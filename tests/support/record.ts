/** Runs tests/support/record-run.ts in a fresh process: one program run, as `pulumi` would make it. */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { RecordedResource } from "../../lib/plan/mock-runtime";
import { REPO_ROOT } from "./alpha";

export interface RecordedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  onePasswordCalls: number;
}

export function recordRun(env: Record<string, string>): RecordedRun {
  const result = spawnSync(
    process.execPath,
    ["--require", "tsx/cjs", join(REPO_ROOT, "tests/support/record-run.ts")],
    {
      cwd: REPO_ROOT,
      encoding: "utf8",
      env: { ...process.env, ...env },
    },
  );
  const parsed =
    result.status === 0 ? JSON.parse(result.stdout) : { resources: [], outputs: {}, onePasswordCalls: 0 };
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ...parsed };
}
