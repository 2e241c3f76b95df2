/**
 * `pnpm bench:runtime`: how `pulumi up` should load the program. It measures what the Pulumi language
 * host does for each choice, as a whole Node process, with the program under the mock runtime:
 *   - transpile-only: Pulumi's ts-node registration with `transpileOnly`, which the language host turns on
 *     because tsconfig.pulumi.json (Pulumi.yaml's `tsconfig` option) sets `noCheck`;
 *   - type-checked: the same registration with type checking (Pulumi's default, for reference);
 *   - precompiled: esbuild-transpiled JS, loaded with plain `require`.
 * Prints one line: `runtime: transpile_only_s=<t> precompiled_s=<p> typecheck_s=<c> ratio=<t/p>`.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildSync } from "esbuild";
import { readStackFile } from "../lib/plan/stack-file";
import { benchSize, median, timeProcess } from "./bench-support";

const ROOT = resolve(__dirname, "..");
const RUNS = benchSize(5, 1);

function runnerSource(entry: string, tsNode: { transpileOnly: boolean } | undefined): string {
  const register = tsNode
    ? `require(${JSON.stringify(join(ROOT, "node_modules/@pulumi/pulumi/vendor/ts-node@7.0.1"))}).register({
         compiler: "typescript", transpileOnly: ${tsNode.transpileOnly}, project: ${JSON.stringify(join(ROOT, "tsconfig.pulumi.json"))},
         skipProject: false, compilerOptions: {} });`
    : "";
  return `
    const pulumi = require("@pulumi/pulumi");
    ${register}
    (async () => {
      pulumi.runtime.setAllConfig(${JSON.stringify(readStackFile(ROOT, "alpha").config)});
      await pulumi.runtime.setMocks({ newResource: (a) => ({ id: a.name, state: a.inputs }), call: (a) => a.inputs },
        "spectral-infra", "alpha", true);
      await pulumi.runtime.runInPulumiStack(async () => ({ ...require(${JSON.stringify(entry)}) }));
    })().catch((e) => { console.error(e); process.exit(1); });`;
}

function main(): void {
  const work = mkdtempSync(join(tmpdir(), "bench-runtime-"));
  const dist = join(ROOT, "dist");
  try {
    // Precompiling is a build step, paid once per commit, not per `pulumi up`: not timed.
    const entryPoints = spawnSync("git", ["ls-files", "*.ts", ":!tests/**", ":!scripts/**"], {
      cwd: ROOT,
      encoding: "utf8",
    })
      .stdout.split("\n")
      .filter(Boolean);
    buildSync({
      entryPoints,
      outdir: dist,
      outbase: ROOT,
      format: "cjs",
      platform: "node",
      target: "node20",
      logLevel: "error",
    });
    const variants = {
      transpile_only: runnerSource(join(ROOT, "index.ts"), { transpileOnly: true }),
      typecheck: runnerSource(join(ROOT, "index.ts"), { transpileOnly: false }),
      precompiled: runnerSource(join(dist, "index.js"), undefined),
    };
    const medians: Record<string, number> = {};
    for (const [name, source] of Object.entries(variants)) {
      const runner = join(work, `${name}.js`);
      writeFileSync(runner, source);
      const env = { ...process.env, NODE_PATH: join(ROOT, "node_modules") };
      medians[name] = median(
        Array.from({ length: RUNS }, () => timeProcess(process.execPath, [runner], { cwd: ROOT, env })),
      );
    }
    const ratio = medians.transpile_only / medians.precompiled;
    console.log(
      `runtime: transpile_only_s=${medians.transpile_only.toFixed(3)} precompiled_s=${medians.precompiled.toFixed(3)} typecheck_s=${medians.typecheck.toFixed(3)} ratio=${ratio.toFixed(2)}`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(dist, { recursive: true, force: true });
  }
}

main();
