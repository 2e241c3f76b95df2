/**
 * The inline program the engine suite and benchmarks run: every resource whose provider this project wrote,
 * wired as index.ts wires them (generation -> Worker upload -> container application -> deploy
 * verification), with inputs a test can change. The bridged resources (workers.dev subdomain, cron trigger,
 * custom domain, docker Image, GitHub secrets) are left out: their plugins cannot be obtained here, so only
 * the mock runtime covers them (see the README).
 */
import * as pulumi from "@pulumi/pulumi";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import type { CallLimits } from "@spectral/provider-support";
import { ContainerApplication } from "../../components/container-application";
import { CONTAINER_CLASS, containerWorkerScriptArgs } from "../../components/container-worker";
import { DeployVerification } from "../../components/deploy-verification";
import { DeploymentGeneration } from "../../components/deployment-generation";
import { ImageRetention } from "../../components/image-retention";
import { WorkerScript } from "../../components/worker-script";
import type { CodeUpdateStrategy } from "../../components/worker-script-provider";
import type { SecretEntry } from "../../lib/config";
import { deploymentFingerprint } from "../../lib/deploy/fingerprint";
import { workerBindingSlots, workerSecretBindings } from "../../lib/secrets/bindings";
import { REPO_ROOT } from "../support/alpha";

export const ACCOUNT = "0000000000000000000000000000e9e1";
export const WORKER = "spectral-engine";
/** The application's image in the registry; the engine program tags each image with its commit. */
export const REPOSITORY = "spectral-engine-app";
/** The stack's digest key in the engine program (a test value, not a secret worth keeping). */
const DIGEST_KEY = "engine-test-digest-key-0000000000";

/** The manifest of the given container secrets, each for the API. */
export function manifestOf(names: string[]): SecretEntry[] {
  return names.map((name) => ({
    name,
    reference: `op://engine/${name.toLowerCase()}/credential`,
    targets: ["container"],
    kind: "env",
    scope: "api",
  }));
}

export interface EngineInputs {
  /** The image digest reference the deploy ships, and its commit. */
  image: string;
  gitSha: string;
  /** Container secrets by name: the manifest (manifestOf) is theirs. */
  secrets: Record<string, string>;
  maxInstances: number;
  instanceType: "lite" | "basic" | "standard-1";
  rolloutStepPercentages: number[];
  /** The deploy role's URL. */
  databaseUrl: string;
  /** Where the Worker answers (workerd, in the tests). */
  url: string;
  verifyTimeoutSeconds: number;
  /** cloudflare.rolloutTimeoutSeconds (60 when left out). */
  rolloutTimeoutSeconds?: number;
  /** cloudflare.requestTimeoutSeconds and retryBudgetSeconds (the providers' defaults when left out). */
  callLimits?: CallLimits;
  /** The deploy database's connect timeout (the provider's default when left out). */
  connectTimeoutSeconds?: number;
  /** The Worker's name at Cloudflare (WORKER when left out). */
  workerName?: string;
  /** The Worker's code update strategy (the program's CODE_UPDATE_STRATEGY when left out). */
  codeUpdateStrategy?: CodeUpdateStrategy;
  /** Pulumi names of the Worker script and the application resources (a rename in code). */
  resourceNames?: { script?: string; container?: string };
}

/** Image `digit` of the test registry; its commit is the digit seven times. */
export function imageReference(digit: string): string {
  return `registry.cloudflare.com/${ACCOUNT}/spectral-engine-app@sha256:${digit.repeat(64)}`;
}

export function gitShaOf(image: string): string {
  return image.slice(-1).repeat(7);
}

export function engineProgram(inputs: EngineInputs): PulumiFn {
  const manifest = manifestOf(Object.keys(inputs.secrets));
  return async () => {
    const containerBindings = pulumi
      .secret(inputs.secrets)
      .apply((values) => workerSecretBindings(manifest, values));
    const digestKey = pulumi.secret(DIGEST_KEY);
    const settings = {
      instanceType: inputs.instanceType,
      maxInstances: inputs.maxInstances,
      sleepAfter: "10m",
    };
    const generation = new DeploymentGeneration("app-generation", {
      stack: pulumi.getStack(),
      service: "app",
      imageDigest: inputs.image,
      gitSha: inputs.gitSha,
      fingerprint: pulumi
        .all([containerBindings, digestKey])
        .apply(([bindings, key]) => deploymentFingerprint(bindings, settings, key)),
      database: { url: pulumi.secret(inputs.databaseUrl) },
      connectTimeoutSeconds: inputs.connectTimeoutSeconds,
    });
    const workerName = inputs.workerName ?? WORKER;
    const script = new WorkerScript(
      inputs.resourceNames?.script ?? "app-worker-script",
      containerWorkerScriptArgs({
        accountId: ACCOUNT,
        workerName,
        compatibilityDate: "2026-11-01",
        compatibilityFlags: [],
        sleepAfter: "10m",
        instances: 1,
        startTimeoutSeconds: 90,
        bindingSlots: workerBindingSlots(manifest),
        secretBindings: containerBindings,
        digestKey,
        generation: generation.generation,
        gitSha: inputs.gitSha,
        repoRoot: REPO_ROOT,
        callLimits: inputs.callLimits,
        codeUpdateStrategy: inputs.codeUpdateStrategy,
      }),
    );
    const container = new ContainerApplication(inputs.resourceNames?.container ?? "app-container", {
      accountId: ACCOUNT,
      name: "spectral-engine-app",
      namespaceId: script.namespaceId,
      namespaceOwner: `${workerName}/${CONTAINER_CLASS}`,
      image: inputs.image,
      instanceType: inputs.instanceType,
      maxInstances: inputs.maxInstances,
      rolloutStepPercentages: inputs.rolloutStepPercentages,
      rolloutGracePeriodSeconds: 30,
      rolloutTimeoutSeconds: inputs.rolloutTimeoutSeconds ?? 60,
      callLimits: inputs.callLimits,
    });
    const verification = new DeployVerification(
      "app-verification",
      {
        url: inputs.url,
        generation: generation.generation,
        gitSha: inputs.gitSha,
        image: inputs.image,
        timeoutSeconds: inputs.verifyTimeoutSeconds,
        callLimits: inputs.callLimits,
      },
      { dependsOn: [script, container] },
    );
    const images = new ImageRetention(
      "app-images",
      {
        accountId: ACCOUNT,
        repository: REPOSITORY,
        tag: inputs.gitSha,
        keep: 2,
        callLimits: inputs.callLimits,
      },
      { dependsOn: [verification] },
    );
    return {
      keptImages: images.kept,
      generation: generation.generation,
      namespaceId: script.namespaceId,
      migrationTag: script.migrationTag,
      applicationId: container.applicationId,
      servingGeneration: verification.servingGeneration,
    };
  };
}
