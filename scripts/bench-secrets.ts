/**
 * `pnpm bench:secrets`: 1Password reads in a full `pulumi up` cycle (a preview run, then an update run,
 * each its own process) over a 40-secret manifest, with the SDK's client swapped for a counting double.
 * Goal: one batch per program run. Prints `secrets: refs=<n> onepassword_calls=<k> program_runs=2`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { stackFileText } from "../tests/support/alpha";

const ROOT = resolve(__dirname, "..");
const SECRETS = 40;

function manifest(): Record<string, unknown>[] {
  return Array.from({ length: SECRETS }, (_, i) => {
    const file = i % 10 === 9;
    return {
      name: `BENCH_SECRET_${i}`,
      reference: file ? `op://bench/item-${i}/blob-${i}.pem` : `op://bench/item-${i}/credential`,
      targets: i % 2 === 0 ? ["github", "container"] : ["container"],
      kind: file ? "file" : "env",
      ...(file ? { fileName: `blob-${i}.pem` } : {}),
      scope: file ? "app" : ["app", "api", "workers"][i % 3],
    };
  });
}

const dir = mkdtempSync(join(tmpdir(), "bench-secrets-"));
try {
  const stack = parse(readFileSync(join(ROOT, "Pulumi.alpha.yaml"), "utf8"));
  stack.config["spectral-infra:secrets"] = manifest();
  const stackFile = join(dir, "Pulumi.bench.yaml");
  // Quoted as the CLI needs (an unquoted date is a timestamp to its YAML reader).
  writeFileSync(stackFile, stackFileText(stack));
  let calls = 0;
  for (const preview of ["true", "false"]) {
    const result = spawnSync(
      process.execPath,
      ["--require", "tsx/cjs", join(ROOT, "tests/support/record-run.ts")],
      {
        cwd: ROOT,
        encoding: "utf8",
        env: {
          ...process.env,
          RECORD_STACK_FILE: stackFile,
          RECORD_PREVIEW: preview,
          RECORD_FAKE_1PASSWORD: "true",
        },
      },
    );
    if (result.status !== 0) throw new Error(`program run failed:\n${result.stderr}`);
    calls += JSON.parse(result.stdout).onePasswordCalls;
  }
  console.log(`secrets: refs=${SECRETS} onepassword_calls=${calls} program_runs=2`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
