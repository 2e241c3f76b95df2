// The GitHub side under the mock runtime: the deploy and preview environments, the secrets sealed for GitHub,
// and which 1Password references a preview and an update read. GitHub's environment key is a mock answer.

import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { REQUIRED_CHECKS } from "../components/github-environment-secrets";
import { parseStackConfig } from "../lib/config";
import { ephemeralKeyPair } from "../lib/github/seal";
import { alphaConfig, REPO_ROOT } from "./support/alpha";
import { devStackEnv, openSealed, type RecordedRun, recordRun } from "./support/record";
import { readYaml } from "./support/repo-automation";

const ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";
const SECRET = "github:index/actionsEnvironmentSecret:ActionsEnvironmentSecret";
const GENERATION = "pulumi-nodejs:dynamic/spectral:DeploymentGeneration";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const alpha = parseStackConfig(alphaConfig());
const githubTargeted = alpha.secrets.filter(({ targets }) => targets.includes("github"));
const all = (run: RecordedRun, type: string) =>
  // biome-ignore lint/suspicious/noExplicitAny: recorded inputs are JSON; each test asserts the shape it reads.
  run.resources.filter((r) => r.type === type).map((r) => r.inputs as any);

describe("GitHub environments (update under mocks)", () => {
  let first: RecordedRun;
  let second: RecordedRun;
  beforeAll(() => {
    first = recordRun(devStackEnv());
    second = recordRun(devStackEnv());
    expect(first.stderr).toBe("");
  });

  it("keeps admins from bypassing either environment; PR previews wait for a reviewer who is not the PR's author", () => {
    const byName = (a: { environment: string }, b: { environment: string }) =>
      a.environment.localeCompare(b.environment);
    expect(all(first, ENVIRONMENT).sort(byName)).toEqual([
      {
        repository: "spectral",
        environment: "alpha",
        canAdminsBypass: false,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      },
      {
        repository: "spectral",
        environment: "alpha-preview",
        canAdminsBypass: false,
        preventSelfReview: true,
        reviewers: [{ users: alpha["github.reviewerIds"] }],
      },
    ]);
  });

  it("manages a ruleset on main: a pull request approved by someone other than its last pusher, CI's two jobs passed, and no bypass, admins included (#21)", () => {
    const rulesets = all(first, RULESET);
    expect(rulesets).toHaveLength(1);
    const [{ rules, ...ruleset }] = rulesets;
    expect(ruleset).toMatchObject({
      repository: "spectral",
      target: "branch",
      enforcement: "active",
      conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
      bypassActors: [],
    });
    // One approval, from someone other than the last pusher; a new push dismisses it.
    expect(rules.pullRequest).toMatchObject({
      requiredApprovingReviewCount: 1,
      requireLastPushApproval: true,
    });
    expect(rules.pullRequest.dismissStaleReviewsOnPush).toBe(true);
    expect(
      rules.requiredStatusChecks.requiredChecks.map(({ context }: { context: string }) => context),
    ).toEqual(REQUIRED_CHECKS);
    expect(rules.requiredStatusChecks.strictRequiredStatusChecksPolicy).toBe(true);
    expect([rules.nonFastForward, rules.deletion]).toEqual([true, true]);
    // The checks it requires are CI's jobs: a renamed job would make every merge wait forever.
    const ci = readYaml(join(REPO_ROOT, ".github/workflows/ci.yml")) as { jobs: Record<string, unknown> };
    expect(Object.keys(ci.jobs).sort()).toEqual([...REQUIRED_CHECKS].sort());
  });

  it("holds deploys for the same reviewers when github.deployNeedsReview is true", () => {
    const reviewed = recordRun(devStackEnv({ "spectral-infra:github.deployNeedsReview": "true" }));
    expect(all(reviewed, ENVIRONMENT).find(({ environment }) => environment === "alpha")).toEqual({
      repository: "spectral",
      environment: "alpha",
      canAdminsBypass: false,
      reviewers: [{ users: alpha["github.reviewerIds"] }],
      preventSelfReview: true,
      deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
    });
  });

  it("seals each value to the environment's key, so state holds no plaintext, and GitHub opens the exact value", async () => {
    const secrets = all(first, SECRET);
    expect(secrets.map(({ secretName }) => secretName)).toEqual(githubTargeted.map(({ name }) => name));
    for (const [index, inputs] of secrets.entries()) {
      expect(Object.keys(inputs).sort()).toEqual([
        "environment",
        "keyId",
        "repository",
        "secretName",
        "valueEncrypted",
      ]);
      expect(inputs.keyId).toBe(first.githubKey.keyId);
      const name = githubTargeted[index].name;
      expect(await openSealed(first, inputs.valueEncrypted.secret)).toBe(
        `dev-${name.toLowerCase()}-000000000000`,
      );
    }
  });

  it("seals an unchanged value to the same text on the next run, so nothing shows as changed", () => {
    expect(all(second, SECRET)).toEqual(all(first, SECRET));
  });

  it("no key a preview reads tests a guess against a sealed text: only the deploy's seal key derives its ephemeral key (#21)", async () => {
    const [inputs] = all(first, SECRET);
    const name = inputs.secretName as string;
    const value = `dev-${name.toLowerCase()}-000000000000`;
    const sealedKey = Buffer.from(inputs.valueEncrypted.secret, "base64").subarray(0, 32);
    const derived = async (key: string) =>
      Buffer.from(
        (await ephemeralKeyPair({ value, keyId: first.githubKey.keyId, name, sealKey: key })).publicKey,
      );
    // The attack: the right guess, tried with the digest key every preview reads, does not match.
    expect((await derived("dev-deploy_digest_key-000000000000")).equals(sealedKey)).toBe(false);
    // The control: with the seal key, which only an update reads, the same derivation matches.
    expect((await derived("dev-deploy_seal_key-000000000000")).equals(sealedKey)).toBe(true);
  });
});

describe("what a preview reads (1Password double, mock runtime)", () => {
  const opReads = (preview: boolean) =>
    recordRun({ RECORD_FAKE_1PASSWORD: "true", ...(preview ? { RECORD_PREVIEW: "true" } : {}) });
  const vault = (reference: string) => reference.split("/")[2];

  it("a preview asks 1Password for no deploy credential and seals nothing", () => {
    const preview = opReads(true);
    expect(preview.stderr).toBe("");
    expect(preview.onePasswordReferences.length).toBeGreaterThan(0);
    expect(preview.onePasswordReferences.map(vault)).not.toContain("spectral-alpha-deploy");
    // The SDK's unknown, as JSON: the engine shows it as a value known only after the update.
    for (const inputs of all(preview, SECRET)) {
      expect(inputs.valueEncrypted).toEqual({ secret: { __pulumiUnknown: true } });
      expect(inputs.keyId).toEqual({ __pulumiUnknown: true });
    }
  });

  it("an update reads the GitHub-only deploy credentials and the seal key, but never the deploy database URL: the provider does, at create", () => {
    const update = opReads(false);
    expect(update.stderr).toBe("");
    const deployVault = update.onePasswordReferences.filter(
      (reference) => vault(reference) === "spectral-alpha-deploy",
    );
    expect(deployVault.sort()).toEqual(
      [
        ...alpha.secrets
          .filter(({ targets }) => !targets.includes("container"))
          .map(({ reference }) => reference),
        alpha["deploy.sealKeyReference"],
      ].sort(),
    );
    expect(update.onePasswordReferences).not.toContain(alpha["database.deployUrlReference"]);
    const generation = update.resources.find((resource) => resource.type === GENERATION)?.inputs ?? {};
    expect(generation.databaseUrlReference).toBe(alpha["database.deployUrlReference"]);
    expect(generation).not.toHaveProperty("databaseUrl");
  });
});
