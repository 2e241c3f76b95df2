import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { SecretEntry } from "../lib/config";
import { githubSecretTargets } from "../lib/secrets/bindings";

export interface GithubEnvironmentSecretsArgs {
  /** GitHub organization or user owning the repository; the provider's token comes from GITHUB_TOKEN. */
  owner: string;
  /** Repository name, without the owner. */
  repository: string;
  /** The GitHub Environment the stack deploys from, e.g. `alpha`. */
  environment: string;
  /** The only branch allowed to deploy to the environment. */
  deployBranch: string;
  /** The secrets manifest; entries that target `github` become Environment secrets. */
  manifest: readonly SecretEntry[];
  /** Every manifest secret's value by name, already a Pulumi secret (one 1Password read per run). */
  values: pulumi.Output<Record<string, string>>;
}

/**
 * The stack's GitHub Environment and its secrets, reconciled from the manifest: one
 * `ActionsEnvironmentSecret` per secret, named by the secret, so a rename or removal deletes exactly the
 * old secret and nothing stale is left.
 */
export class GithubEnvironmentSecrets extends pulumi.ComponentResource {
  /** Names of the Environment secrets this component manages, upper case as GitHub stores them. */
  public readonly secretNames: string[];

  constructor(name: string, args: GithubEnvironmentSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:github:EnvironmentSecrets", name, {}, opts);
    const provider = new github.Provider(`${name}-github`, { owner: args.owner }, { parent: this });
    const environment = new github.RepositoryEnvironment(
      `${name}-environment`,
      {
        repository: args.repository,
        environment: args.environment,
        deploymentBranchPolicy: { protectedBranches: false, customBranchPolicies: true },
      },
      { parent: this, provider },
    );
    this.allowOnlyTheDeployBranch(name, args, environment, provider);
    this.secretNames = this.environmentSecrets(args, environment, provider);
    this.registerOutputs({ secretNames: this.secretNames });
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
    const targets = githubSecretTargets(args.manifest);
    for (const { name, secretName } of targets) {
      new github.ActionsEnvironmentSecret(
        // The logical name is the secret's name: renaming the secret is the only thing that renames this.
        secretName,
        {
          repository: args.repository,
          environment: environment.environment,
          secretName,
          value: pulumi.secret(args.values.apply((values) => values[name])),
        },
        { parent: this, provider },
      );
    }
    return targets.map(({ secretName }) => secretName);
  }
}
