/**
 * Composition root of spectral-infra: read the stack config, create the components, export outputs.
 * An async program (the language host awaits it): secrets are read once, up front, so a secret that
 * fails to resolve or fit stops the run before any resource is registered.
 */
import { GithubEnvironmentSecrets } from "./components/github-environment-secrets";
import { readStackConfig } from "./lib/config";
import { resolveStackSecrets, secretSourceFromEnvironment } from "./lib/secrets/resolve";

export = async () => {
  const config = readStackConfig();
  const secrets = await resolveStackSecrets(config, secretSourceFromEnvironment());

  const githubEnvironment = new GithubEnvironmentSecrets("deploy-secrets", {
    owner: config["github.owner"],
    repository: config["github.repository"],
    environment: config["github.environment"],
    deployBranch: "main",
    manifest: config.secrets,
    values: secrets.values,
  });

  return {
    workerName: config["cloudflare.workerName"],
    githubEnvironmentSecretNames: githubEnvironment.secretNames,
  };
};
