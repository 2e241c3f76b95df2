// `pnpm plan` launcher: runs scripts/plan.ts precompiled. esbuild bundles the program's own code (packages
// stay external) into .pulumi-plan/, keyed by a hash of the sources, so a plan loads plain JavaScript
// instead of paying TypeScript loader hooks on every module (bench:plan). Same code, same arguments.
const { createHash } = require("node:crypto");
const { existsSync, readdirSync, readFileSync, rmSync, statSync } = require("node:fs");
const { join, relative } = require("node:path");

const root = join(__dirname, "..");
const SOURCES = ["index.ts", "components", "lib", "scripts/plan.ts", "package.json", "tsconfig.json"];
const OUT_DIR = join(root, ".pulumi-plan");

function sourceFiles(path) {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path)
    .sort()
    .flatMap((name) => sourceFiles(join(path, name)));
}

const hash = createHash("sha256");
for (const file of SOURCES.flatMap((source) => sourceFiles(join(root, source)))) {
  hash.update(`${relative(root, file)}\0`).update(readFileSync(file));
}
const bundle = join(OUT_DIR, `plan-${hash.digest("hex").slice(0, 16)}.js`);

if (!existsSync(bundle)) {
  rmSync(OUT_DIR, { recursive: true, force: true });
  require("esbuild").buildSync({
    entryPoints: [join(root, "scripts/plan.ts")],
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    packages: "external",
    outfile: bundle,
    logLevel: "error",
  });
}
require(bundle);
