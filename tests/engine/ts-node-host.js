// One Pulumi operation in a fresh Node process, with the program loaded as the Pulumi language host loads a
// TypeScript project (@pulumi/pulumi/cmd/run/run.js, which the language plugin runs): Pulumi's own tsutils
// choose TypeScript and ts-node, `transpileOnly` follows tsconfig.pulumi.json's `noCheck` (Pulumi.yaml's
// `tsconfig` option), and ts-node registers with run.js's options. So every dynamic provider is serialized
// from ts-node's output, comments kept, as in `pulumi up`. The language plugin itself cannot be obtained
// here (the Go proxy does not serve it), so the Automation API stands in for it as the program's host.
//
// Usage: node ts-node-host.js <checkout> <job.json> <result.json>   (see lifecycle-job.ts)
const { join } = require("node:path");
const { readFileSync, writeFileSync } = require("node:fs");

const [checkout, jobFile, resultFile] = process.argv.slice(2);
process.chdir(checkout);
const tsConfigPath = "tsconfig.pulumi.json";
process.env.PULUMI_NODEJS_TYPESCRIPT = "true";
process.env.PULUMI_NODEJS_TSCONFIG_PATH = tsConfigPath;

const tsutils = require(join(checkout, "node_modules/@pulumi/pulumi/tsutils"));
const compilerOptions = tsutils.loadTypeScriptCompilerOptions(tsConfigPath);
const { tsnodeRequire, typescriptRequire } = tsutils.typeScriptRequireStrings();
const [major, minor] = require(typescriptRequire).version.split(".").map(Number);
const nodeNext = major > 4 || (major === 4 && minor >= 7);
require(tsnodeRequire).register({
  compiler: typescriptRequire,
  transpileOnly: compilerOptions.noCheck,
  project: tsConfigPath,
  skipProject: false,
  compilerOptions: {
    target: "ES2020",
    module: nodeNext ? "nodenext" : "commonjs",
    moduleResolution: nodeNext ? "nodenext" : "node",
    sourceMap: "true",
    ...compilerOptions,
  },
});

const { runJob } = require(join(checkout, "tests/engine/lifecycle-job.ts"));
runJob(JSON.parse(readFileSync(jobFile, "utf8"))).then(
  (result) => writeFileSync(resultFile, JSON.stringify(result)),
  (error) => {
    writeFileSync(resultFile, JSON.stringify({ error: String(error?.message ?? error) }));
    process.exitCode = 1;
  },
);
