/**
 * Composition root of spectral-infra: read the stack config, create the components, export outputs.
 * An async program (the language host awaits it): secrets are read once, up front, so a secret that
 * fails to resolve or fit stops the run before any resource is registered.
 */
import * as pulumi from "@pulumi/pulumi";
import { AppImage } from "./components/app-image";
import { ContainerApplication } from "./components/container-application";
import { ContainerWorker } from "./components/container-worker";
import { DeployVerification } from "./components/deploy-verification";
import { DeploymentGeneration } from "./components/deployment-generation";
import { GithubEnvironmentSecrets } from "./components/github-environment-secrets";
import { ImageRetention } from "./components/image-retention";
import { WakeSchedule } from "./components/wake-schedule";
import { readStackConfig } from "./lib/config";
import { deploymentFingerprint } from "./lib/deploy/fingerprint";
import { workerBindingSlots, workerSecretBindings } from "./lib/secrets/bindings";
import { chooseSecretSource, resolveStackSecrets } from "./lib/secrets/resolve";

export = async () => {
  const config = readStackConfig();
  // How long any one Cloudflare, registry or /health request may take, and how long a call retries.
  const callLimits = {
    requestTimeoutSeconds: config["cloudflare.requestTimeoutSeconds"],
    retryBudgetSeconds: config["cloudflare.retryBudgetSeconds"],
  };
  const preview = pulumi.runtime.isDryRun();
  const secrets = await resolveStackSecrets(
    config,
    chooseSecretSource({ localSecretsFile: config["deploy.localSecretsFile"], preview }),
    { preview },
  );

  const githubEnvironment = new GithubEnvironmentSecrets("deploy-secrets", {
    owner: config["github.owner"],
    repository: config["github.repository"],
    environment: config["github.environment"],
    deployBranch: "main",
    manifest: config.secrets,
    values: secrets.values,
    githubOnlyValues: secrets.githubOnlyValues,
    sealKey: secrets.sealKey,
    reviewerIds: config["github.reviewerIds"],
    deployNeedsReview: config["github.deployNeedsReview"],
  });

  const image = new AppImage("app", {
    repoRoot: ".",
    dockerfile: "infra/docker/app.Dockerfile",
    accountId: config["cloudflare.accountId"],
    name: config["cloudflare.containerName"],
  });

  // What the container receives through the Worker: its fingerprint decides whether a generation is new.
  const containerBindings = secrets.values.apply((values) => workerSecretBindings(config.secrets, values));

  const generation = new DeploymentGeneration("app-generation", {
    stack: pulumi.getStack(),
    service: "app",
    imageDigest: image.digestReference,
    gitSha: image.version.sha,
    fingerprint: pulumi.all([containerBindings, secrets.digestKey]).apply(([bindings, key]) =>
      deploymentFingerprint(
        bindings,
        {
          instanceType: config["cloudflare.instanceType"],
          maxInstances: config["cloudflare.maxInstances"],
          sleepAfter: config["cloudflare.sleepAfter"],
        },
        key,
      ),
    ),
    database: secrets.deployDatabase,
    databaseCa: secrets.databaseCa,
  });

  const worker = new ContainerWorker("app-worker", {
    accountId: config["cloudflare.accountId"],
    workerName: config["cloudflare.workerName"],
    compatibilityDate: config["cloudflare.compatibilityDate"],
    compatibilityFlags: config["cloudflare.compatibilityFlags"],
    sleepAfter: config["cloudflare.sleepAfter"],
    instances: config["cloudflare.instances"],
    startTimeoutSeconds: config["cloudflare.startTimeoutSeconds"],
    bindingSlots: workerBindingSlots(config.secrets),
    secretBindings: containerBindings,
    digestKey: secrets.digestKey,
    generation: generation.generation,
    gitSha: image.version.sha,
    workersDev: config["cloudflare.workersDev"],
    customDomain: config["cloudflare.customDomain"],
    repoRoot: ".",
    callLimits,
  });

  const container = new ContainerApplication("app-container", {
    accountId: config["cloudflare.accountId"],
    name: config["cloudflare.containerName"],
    namespaceId: worker.namespaceId,
    namespaceOwner: worker.namespaceOwner,
    image: image.digestReference,
    instanceType: config["cloudflare.instanceType"],
    maxInstances: config["cloudflare.maxInstances"],
    rolloutStepPercentages: config["cloudflare.rolloutStepPercentages"],
    rolloutGracePeriodSeconds: config["cloudflare.rolloutGracePeriodSeconds"],
    rolloutTimeoutSeconds: config["cloudflare.rolloutTimeoutSeconds"],
    callLimits,
  });

  new WakeSchedule("app-worker-wake", {
    accountId: config["cloudflare.accountId"],
    workerName: config["cloudflare.workerName"],
    application: container,
    formerParent: worker,
  });

  // The deploy's own verdict, last: the API serves this generation of this image.
  const verification = new DeployVerification(
    "app-verification",
    {
      url: worker.url,
      generation: generation.generation,
      gitSha: image.version.sha,
      image: image.digestReference,
      timeoutSeconds: config["cloudflare.verifyTimeoutSeconds"],
      callLimits,
    },
    { dependsOn: [worker, container] },
  );

  // Last: once the new image serves, older ones are pruned from the registry.
  new ImageRetention(
    "app-images",
    {
      accountId: config["cloudflare.accountId"],
      repository: config["cloudflare.containerName"],
      tag: image.imageName.split(":").pop() ?? "",
      keep: config["cloudflare.imagesToKeep"],
      callLimits,
    },
    { dependsOn: [verification] },
  );

  return {
    workerName: config["cloudflare.workerName"],
    url: worker.url,
    durableObjectNamespaceId: worker.namespaceId,
    containerApplicationId: container.applicationId,
    githubEnvironmentSecretNames: githubEnvironment.secretNames,
    imageName: image.imageName,
    imageDigest: image.digestReference,
    generation: generation.generation,
    servingGeneration: verification.servingGeneration,
  };
};
