/**
 * Composition root of spectral-infra: read the stack config, create the components, export outputs.
 */
import { GithubEnvironmentSecrets } from "./components/github-environment-secrets";
import { readStackConfig } from "./lib/config";
import { resolveStackSecrets, secretSourceFromEnvironment } from "./lib/secrets/resolve";

const config = readStackConfig();
const secrets = resolveStackSecrets(config, secretSourceFromEnvironment());

const githubEnvironment = new GithubEnvironmentSecrets("deploy-secrets", {
  owner: config["github.owner"],
  repository: config["github.repository"],
  environment: config["github.environment"],
  deployBranch: "main",
  manifest: config.secrets,
  values: secrets.values,
});

export const workerName = config["cloudflare.workerName"];
export const githubEnvironmentSecretNames = githubEnvironment.secretNames;
