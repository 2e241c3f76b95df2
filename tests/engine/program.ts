/**
 * The inline program the engine suite and benchmarks run: every resource whose provider this project wrote,
 * wired as index.ts wires them (generation -> migrations -> container application), with inputs a test can
 * change. The bridged resources (Worker, WorkerVersion, docker Image, GitHub secrets) are left out: their
 * plugins cannot be obtained here, so only the mock runtime covers them (see the README).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import type { PulumiFn } from "@pulumi/pulumi/automation";
import { ContainerApplication } from "../../components/container-application";
import { CONTAINER_CLASS, DURABLE_OBJECT_MIGRATIONS } from "../../components/container-worker";
import { DeploymentGeneration } from "../../components/deployment-generation";
import { DurableObjectMigrations } from "../../components/durable-object-migrations";
import { deploymentFingerprint } from "../../lib/deploy/fingerprint";
import type { WorkerBinding } from "../../lib/secrets/bindings";

export const ACCOUNT = "0000000000000000000000000000e9e1";
export const WORKER = "spectral-engine";
export const NAMESPACE_ID = "do-namespace-spectral-engine";

export interface EngineInputs {
  /** The image digest reference the deploy ships. */
  image: string;
  gitSha: string;
  /** Container secrets by name: each becomes a secret_text binding, as the alpha manifest's do. */
  secrets: Record<string, string>;
  maxInstances: number;
  instanceType: "lite" | "basic" | "standard-1";
  rolloutStepPercentages: number[];
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
      fingerprint: bindings.apply((resolved) => deploymentFingerprint(resolved, settings)),
      databaseUrl: pulumi.secret(inputs.databaseUrl),
    });
    const migrations = new DurableObjectMigrations("app-worker-migrations", {
      accountId: ACCOUNT,
      scriptName: WORKER,
      history: DURABLE_OBJECT_MIGRATIONS,
      versionHash: pulumi.all([bindings, generation.generation]).apply(([resolved, allocated]) =>
        createHash("sha256")
          .update(JSON.stringify([resolved, allocated]))
          .digest("hex"),
      ),
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
      { dependsOn: [migrations] },
    );
    return {
      generation: generation.generation,
      pendingMigrations: migrations.pending,
      applicationId: container.applicationId,
    };
  };
}
