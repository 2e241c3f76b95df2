/**
 * The inline program the engine suite and benchmarks run: every resource whose provider this project wrote,
 * wired as index.ts wires them (generation -> Worker script -> container application), with inputs a test
 * can change. The bridged resources (workers.dev subdomain, cron trigger, custom domain, docker Image,
 * GitHub secrets) are left out: their plugins cannot be obtained here, so only the mock runtime covers them
 * (see the README).
 */
import * as pulumi from "@pulumi/pulumi";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { ContainerApplication } from "../../components/container-application";
import { CONTAINER_CLASS } from "../../components/container-worker";
import { DeploymentGeneration } from "../../components/deployment-generation";
import { WorkerScript } from "../../components/worker-script";
import type { DurableObjectMigration } from "../../components/worker-script-provider";
import { bindingDigest, deploymentFingerprint } from "../../lib/deploy/fingerprint";
import type { WorkerBinding } from "../../lib/secrets/bindings";

/** The stack's digest key in the engine program (a test value, not a secret worth keeping). */
const DIGEST_KEY = "engine-test-digest-key-0000000000";
export const ACCOUNT = "0000000000000000000000000000e9e1";
export const WORKER = "spectral-engine";

export interface EngineInputs {
  /** The image digest reference the deploy ships. */
  image: string;
  gitSha: string;
  /** Container secrets by name: each becomes a secret_text binding, as the alpha manifest's do. */
  secrets: Record<string, string>;
  maxInstances: number;
  instanceType: "lite" | "basic" | "standard-1";
  rolloutStepPercentages: number[];
  /** The Worker's module source and its Durable Object migration history. */
  workerCode: string;
  migrations: DurableObjectMigration[];
  /** The deploy role's URL. */
  databaseUrl: string;
}

export function imageReference(digit: string): string {
  return `registry.cloudflare.com/${ACCOUNT}/spectral-engine-app@sha256:${digit.repeat(64)}`;
}

export function engineProgram(inputs: EngineInputs): PulumiFn {
  return async () => {
    const bindings = pulumi.secret(
      Object.entries(inputs.secrets).map(
        ([name, text]): WorkerBinding => ({ type: "secret_text", name, text }),
      ),
    );
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
      fingerprint: bindings.apply((resolved) => deploymentFingerprint(resolved, settings, DIGEST_KEY)),
      databaseUrl: pulumi.secret(inputs.databaseUrl),
    });
    const script = new WorkerScript("app-worker-script", {
      accountId: ACCOUNT,
      scriptName: WORKER,
      mainModule: "index.js",
      code: inputs.workerCode,
      compatibilityDate: "2026-11-01",
      compatibilityFlags: [],
      bindings: [
        { type: "durable_object_namespace", name: "SPECTRAL_APP", className: CONTAINER_CLASS },
        { type: "plain_text", name: "SPECTRAL_GENERATION", text: generation.generation.apply(String) },
        ...Object.entries(inputs.secrets).map(([name, text]) => ({
          type: "secret_text" as const,
          name,
          digest: bindingDigest(DIGEST_KEY, { name, text }),
        })),
      ],
      secrets: Object.fromEntries(
        Object.entries(inputs.secrets).map(([name, value]) => [name, pulumi.secret(value)]),
      ),
      containerClass: CONTAINER_CLASS,
      migrations: inputs.migrations,
    });
    const container = new ContainerApplication(
      "app-container",
      {
        accountId: ACCOUNT,
        name: "spectral-engine-app",
        image: inputs.image,
        instanceType: inputs.instanceType,
        maxInstances: inputs.maxInstances,
        workerName: WORKER,
        className: CONTAINER_CLASS,
        rolloutStepPercentages: inputs.rolloutStepPercentages,
        generation: generation.generation,
      },
      { dependsOn: [script] },
    );
    return {
      generation: generation.generation,
      namespaceId: script.namespaceId,
      migrationTag: script.migrationTag,
      applicationId: container.applicationId,
    };
  };
}
