import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { SecretEntry } from "../lib/config";
import { sealForGithub } from "../lib/github/seal";
import { githubSecretTargets } from "../lib/secrets/bindings";

/** The CI checks every change to the deploy branch must pass: the jobs of .github/workflows/ci.yml. */
export const REQUIRED_CHECKS = ["test", "workflows"];

export interface GithubEnvironmentSecretsArgs {
  /** GitHub organization or user owning the repository; the provider's token comes from GITHUB_TOKEN. */
  owner: string;
  /** Repository name, without the owner. */
  repository: string;
  /** The GitHub Environment the stack deploys from, e.g. `alpha`; PR previews run in `<environment>-preview`. */
  environment: string;
  /** The only branch allowed to deploy to the environment. */
  deployBranch: string;
  /** The secrets manifest; entries that target `github` become Environment secrets. */
  manifest: readonly SecretEntry[];
  /** Values of the secrets that also target the container, already a Pulumi secret. */
  values: pulumi.Output<Record<string, string>>;
  /** Values of the GitHub-only secrets (deploy credentials); unknown in a preview. */
  githubOnlyValues: pulumi.Output<Record<string, string>>;
  /** Keys the derivation that makes a sealed value repeatable (lib/github/seal.ts); unknown in a preview. */
  sealKey: pulumi.Output<string>;
  /** GitHub user ids who must approve every PR preview, and every deploy when `deployNeedsReview`. */
  reviewerIds: readonly number[];
  /** Also hold each deploy for one of `reviewerIds`. */
  deployNeedsReview: boolean;
}

/**
 * The deploy path's protection on GitHub, and the deploy environment's secrets, reconciled from the manifest.
 * - A ruleset on `deployBranch`: every change arrives by pull request with an approving review from
 *   someone other than its last pusher, after CI's checks pass; nobody bypasses it, admins included. So
 *   no single actor puts unreviewed code on the branch the deploy runs from (and defines its workflows).
 * - `<environment>`: deployable from `deployBranch` only; admins cannot bypass its rules.
 * - `<environment>-preview`: where PR previews get their read-only credentials, only after one of the
 *   reviewers approves the run (the PR's author may not approve their own); admins cannot bypass it.
 * - One `ActionsEnvironmentSecret` per secret, named by the secret, so a rename or removal deletes exactly
 *   the old secret. Its value is sealed to the environment's key here, so state holds only sealed text.
 */
export class GithubEnvironmentSecrets extends pulumi.ComponentResource {
  /** Names of the Environment secrets this component manages, upper case as GitHub stores them. */
  public readonly secretNames: string[];

  constructor(name: string, args: GithubEnvironmentSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:github:EnvironmentSecrets", name, {}, opts);
    const provider = new github.Provider(`${name}-github`, { owner: args.owner }, { parent: this });
    this.reviewEveryChange(name, args, provider);
    const environment = this.deployEnvironment(name, args, provider);
    this.previewEnvironment(name, args, provider);
    this.allowOnlyTheDeployBranch(name, args, environment, provider);
    this.secretNames = this.environmentSecrets(args, environment, provider);
    this.registerOutputs({ secretNames: this.secretNames });
  }

  private reviewEveryChange(
    name: string,
    args: GithubEnvironmentSecretsArgs,
    provider: github.Provider,
  ): void {
    new github.RepositoryRuleset(
      `${name}-reviewed-${args.deployBranch}`,
      {
        repository: args.repository,
        name: `${args.deployBranch}: reviewed and tested`,
        target: "branch",
        enforcement: "active",
        conditions: { refName: { includes: [`refs/heads/${args.deployBranch}`], excludes: [] } },
        // No one bypasses it: not admins, not apps, not the deploy.
        bypassActors: [],
        rules: {
          pullRequest: {
            requiredApprovingReviewCount: 1,
            requireLastPushApproval: true,
            dismissStaleReviewsOnPush: true,
          },
          requiredStatusChecks: {
            requiredChecks: REQUIRED_CHECKS.map((context) => ({ context })),
            strictRequiredStatusChecksPolicy: true,
          },
          nonFastForward: true,
          deletion: true,
        },
      },
      { parent: this, provider },
    );
  }

  private deployEnvironment(
    name: string,
    args: GithubEnvironmentSecretsArgs,
    provider: github.Provider,
  ): github.RepositoryEnvironment {
    return new github.RepositoryEnvironment(
      `${name}-environment`,
      {
        repository: args.repository,
        environment: args.environment,
        canAdminsBypass: false,
        ...(args.deployNeedsReview
          ? { reviewers: [{ users: [...args.reviewerIds] }], preventSelfReview: true }
          : {}),
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      },
      { parent: this, provider },
    );
  }

  private previewEnvironment(
    name: string,
    args: GithubEnvironmentSecretsArgs,
    provider: github.Provider,
  ): void {
    new github.RepositoryEnvironment(
      `${name}-preview-environment`,
      {
        repository: args.repository,
        environment: `${args.environment}-preview`,
        canAdminsBypass: false,
        preventSelfReview: true,
        reviewers: [{ users: [...args.reviewerIds] }],
      },
      { parent: this, provider },
    );
  }

  private allowOnlyTheDeployBranch(
    name: string,
    args: GithubEnvironmentSecretsArgs,
    environment: github.RepositoryEnvironment,
    provider: github.Provider,
  ): void {
    new github.RepositoryEnvironmentDeploymentPolicy(
      `${name}-deploy-branch`,
      { repository: args.repository, environment: environment.environment, branchPattern: args.deployBranch },
      { parent: this, provider },
    );
  }

  private environmentSecrets(
    args: GithubEnvironmentSecretsArgs,
    environment: github.RepositoryEnvironment,
    provider: github.Provider,
  ): string[] {
    // A preview reads no GitHub key (the read-only preview token may not) and seals nothing: unknown.
    const publicKey = pulumi.runtime.isDryRun()
      ? undefined
      : github.getActionsEnvironmentPublicKeyOutput(
          { repository: args.repository, environment: environment.environment },
          { parent: this, provider },
        );
    const values = pulumi
      .all([args.values, args.githubOnlyValues])
      .apply(([shared, githubOnly]) => ({ ...shared, ...githubOnly }));
    const targets = githubSecretTargets(args.manifest);
    for (const { name, secretName } of targets) {
      const sealed = publicKey
        ? pulumi
            .all([values, publicKey, args.sealKey])
            .apply(([all, key, sealKey]) =>
              sealForGithub({ value: all[name], publicKey: key.key, keyId: key.keyId, name, sealKey }),
            )
        : pulumi.output(pulumi.unknown as string);
      new github.ActionsEnvironmentSecret(
        // The logical name is the secret's name: renaming the secret is the only thing that renames this.
        secretName,
        {
          repository: args.repository,
          environment: environment.environment,
          secretName,
          valueEncrypted: pulumi.secret(sealed),
          keyId: publicKey ? publicKey.keyId : (pulumi.unknown as string),
        },
        { parent: this, provider },
      );
    }
    return targets.map(({ secretName }) => secretName);
  }
}
