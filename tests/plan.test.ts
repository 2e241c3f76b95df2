import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import type { Plan } from "../lib/plan/render";
import { REPO_ROOT, stackFileText } from "./support/alpha";

/** The README's main-job command, as an operator runs it. */
function plan(...args: string[]) {
  return planWith({}, ...args);
}

function planWith(env: Record<string, string>, ...args: string[]) {
  const result = spawnSync("pnpm", ["--silent", "plan", ...args], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const extraStackFiles: string[] = [];
function writeStack(stack: string, config: Record<string, unknown>): void {
  const file = join(REPO_ROOT, `Pulumi.${stack}.yaml`);
  extraStackFiles.push(file);
  writeFileSync(file, stackFileText({ config }));
}

afterEach(() => {
  for (const file of extraStackFiles.splice(0)) rmSync(file, { force: true });
});

/** The alpha stack file's `config:` map, as written (not as the engine encodes it). */
function alphaDocument(): Record<string, unknown> {
  return parse(readFileSync(join(REPO_ROOT, "Pulumi.alpha.yaml"), "utf8")).config;
}

describe("pnpm plan (offline, mock runtime in preview mode)", () => {
  it("prints alpha's resource tree, outputs and a summary with counts per type", () => {
    const { status, stdout, stderr } = plan();
    expect(stderr).toBe("");
    expect(status).toBe(0);
    const lines = stdout.split("\n");
    expect(lines[0]).toBe(
      "Offline plan of spectral-infra/alpha: mock runtime in preview mode, no credentials, no network.",
    );
    expect(lines).toContain("pulumi:pulumi:Stack  spectral-infra-alpha");
    expect(lines).toContain("├─ spectral:github:EnvironmentSecrets  deploy-secrets");
    expect(lines).toContain("├─ spectral:image:AppImage  app");
    expect(lines).toContain("├─ pulumi-nodejs:dynamic/spectral:DeploymentGeneration  app-generation");
    expect(lines).toContain("├─ spectral:cloudflare:ContainerWorker  app-worker");
    expect(lines).toContain("├─ pulumi-nodejs:dynamic/spectral:ContainerApplication  app-container");
    expect(lines).toContain("├─ pulumi-nodejs:dynamic/spectral:DeployVerification  app-verification");
    expect(lines).toContain("└─ pulumi-nodejs:dynamic/spectral:ImageRetention  app-images");
    // Exactly the manifest's GitHub-targeted secrets, each value hidden.
    const githubSecrets = lines.filter((line) => line.includes("ActionsEnvironmentSecret  "));
    expect(githubSecrets.map((line) => line.split("  ").pop())).toEqual([
      "SENTRY_DSN",
      "CLOUDFLARE_API_TOKEN",
      "PULUMI_ACCESS_TOKEN",
    ]);
    // Sealed for GitHub only in an update: a preview shows no value, not even a sealed one.
    const values = lines.filter((line) => / value\w*: /.test(line));
    expect(values).toHaveLength(3);
    for (const line of values) expect(line).toMatch(/ valueEncrypted: \[secret\]$/);
    expect(stdout).not.toContain("placeholder-");
    expect(lines).toContain("Outputs:");
    expect(lines).toContain(
      '  githubEnvironmentSecretNames: ["SENTRY_DSN","CLOUDFLARE_API_TOKEN","PULUMI_ACCESS_TOKEN"]',
    );
    expect(lines).toContain("  workerName: spectral-alpha");
    // Nothing is built, pushed or allocated: the digest and the generation are unknown until an update.
    expect(lines).toContain("  imageDigest: [unknown]");
    expect(lines).toContain("  generation: [unknown]");
    expect(lines).toContain("  url: [unknown]");
    expect(lines).toContain("  servingGeneration: [unknown]");
    expect(lines).toContain("  containerApplicationId: [unknown]");
    expect(lines.filter((line) => line.startsWith("Summary: "))).toEqual([
      "Summary: 21 resources: 1 cloudflare:index/workersCronTrigger:WorkersCronTrigger, 1 cloudflare:index/workersScriptSubdomain:WorkersScriptSubdomain, 1 docker:index/image:Image, 3 github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret, 2 github:index/repositoryEnvironment:RepositoryEnvironment, 1 github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy, 1 github:index/repositoryRuleset:RepositoryRuleset, 1 pulumi-nodejs:dynamic/spectral:ContainerApplication, 1 pulumi-nodejs:dynamic/spectral:DeployVerification, 1 pulumi-nodejs:dynamic/spectral:DeploymentGeneration, 1 pulumi-nodejs:dynamic/spectral:ImageRetention, 1 pulumi-nodejs:dynamic/spectral:WorkerScript, 1 pulumi:providers:github, 1 pulumi:pulumi:Stack, 1 spectral:cloudflare:ContainerWorker, 1 spectral:cloudflare:WakeSchedule, 1 spectral:github:EnvironmentSecrets, 1 spectral:image:AppImage",
    ]);
  });

  it("--json gives the same plan for machines, with consistent parents and counts", () => {
    const { status, stdout } = plan("--stack", "alpha", "--json");
    expect(status).toBe(0);
    const data = JSON.parse(stdout) as Plan;
    expect(data).toMatchObject({
      project: "spectral-infra",
      stack: "alpha",
      outputs: { workerName: "spectral-alpha" },
    });
    const keys = new Set(data.resources.map((resource) => `${resource.type}::${resource.name}`));
    for (const resource of data.resources)
      if (resource.parent !== null) expect(keys).toContain(resource.parent);
    expect(data.summary.total).toBe(data.resources.length);
    expect(Object.values(data.summary.byType).reduce((a, b) => a + b, 0)).toBe(data.resources.length);
  });

  it("plans another stack from its own file", () => {
    writeStack("plantest-other", {
      ...alphaDocument(),
      "spectral-infra:cloudflare.workerName": "spectral-other",
    });
    const { status, stdout } = plan("--stack", "plantest-other");
    expect(status).toBe(0);
    expect(stdout).toContain("Offline plan of spectral-infra/plantest-other");
    expect(stdout).toContain("pulumi:pulumi:Stack  spectral-infra-plantest-other");
    expect(stdout).toContain("  workerName: spectral-other");
  });

  it("exits non-zero with every config problem and no stack trace", () => {
    writeStack("plantest-broken", {
      ...alphaDocument(),
      "spectral-infra:cloudflare.maxInstances": 0,
      "spectral-infra:github.owner": undefined,
      "spectral-infra:cloudflare.colour": "blue",
    });
    const { status, stdout, stderr } = plan("--stack", "plantest-broken");
    expect(status).toBe(1);
    expect(stdout).toBe("");
    expect(stderr.trimEnd().split("\n")).toEqual([
      "plan: invalid stack config (3 problems):",
      "  spectral-infra:cloudflare.colour: is not a known setting; remove it or fix its spelling (docs/configuration.md lists every setting)",
      "  spectral-infra:cloudflare.maxInstances: must be a whole number between 1 and 100",
      "  spectral-infra:github.owner: is required; add it to Pulumi.<stack>.yaml (docs/configuration.md lists every setting)",
    ]);
  });

  it("names a missing stack file", () => {
    const { status, stderr } = plan("--stack", "nosuchstack");
    expect(status).toBe(1);
    expect(stderr).toBe(
      `plan: ${join(REPO_ROOT, "Pulumi.nosuchstack.yaml")}: no such stack file; create it or pass --stack with an existing stack\n`,
    );
  });

  it("behaves like a command-line tool: --help prints usage, a bad argument is one line and exit 2", () => {
    const help = plan("--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: pnpm plan \[--stack NAME\] \[--json\]\n/);
    for (const [args, message] of [
      [["--stack"], "plan: Option '--stack <value>' argument missing (see pnpm plan --help)\n"],
      [
        ["stray"],
        "plan: Unexpected argument 'stray'. This command does not take positional arguments (see pnpm plan --help)\n",
      ],
      [["--colour"], "plan: Unknown option '--colour' (see pnpm plan --help)\n"],
    ] as const) {
      const run = plan(...args);
      expect({ status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({
        status: 2,
        stdout: "",
        stderr: message,
      });
    }
  });

  it("says it ignores SPECTRAL_SECRET_SOURCE instead of ignoring it silently", () => {
    const run = planWith({ SPECTRAL_SECRET_SOURCE: "local:/tmp/secrets.env" }, "--json");
    expect(run.status).toBe(0);
    expect(run.stderr).toBe(
      "plan: notice: SPECTRAL_SECRET_SOURCE=local:/tmp/secrets.env is ignored; the offline plan uses placeholder values\n",
    );
  });
});
