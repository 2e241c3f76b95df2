/**
 * Bundles worker/src/index.ts into one ES module with esbuild, the way wrangler would, during the program
 * run (so `pulumi up` ships what is in the checkout). Deterministic: paths in the output are relative to
 * the repository root, nothing is minified with random names and no timestamp is written, so the same
 * source gives the same bytes and an unchanged Worker gets no new version.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";

export const WORKER_ENTRY = "worker/src/index.ts";
export const WORKER_MODULE = "index.js";

export interface WorkerBundle {
  /** The module's source text. */
  code: string;
  /** sha256 of the code, for logs and tests. */
  sha256: string;
}

export function bundleWorker(repoRoot: string): WorkerBundle {
  const { buildSync } = require("esbuild") as typeof import("esbuild");
  const absoluteRoot = resolve(repoRoot);
  const result = buildSync({
    absWorkingDir: absoluteRoot,
    entryPoints: [WORKER_ENTRY],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    mainFields: ["module", "main"],
    conditions: ["workerd", "worker", "import"],
    // Provided by the Workers runtime.
    external: ["cloudflare:*"],
    legalComments: "none",
    charset: "utf8",
    write: false,
    logLevel: "silent",
  });
  const code = result.outputFiles[0].text;
  return { code, sha256: createHash("sha256").update(code).digest("hex") };
}
