/**
 * What a running container was started with, besides its image: the Worker bindings it receives and the
 * container settings. A change to either needs a new generation and a restart (a running container keeps
 * the environment it started with), so DeploymentGeneration replaces on a changed fingerprint.
 */
import { createHash } from "node:crypto";
import type { WorkerBinding } from "../secrets/bindings";

export interface ContainerSettings {
  instanceType: string;
  maxInstances: number;
  sleepAfter: string;
}

export function deploymentFingerprint(
  bindings: readonly WorkerBinding[],
  settings: ContainerSettings,
): string {
  const hash = createHash("sha256");
  for (const binding of [...bindings].sort((a, b) => a.name.localeCompare(b.name))) {
    hash.update(`${binding.type}\0${binding.name}\0${Buffer.byteLength(binding.text)}\0${binding.text}\0`);
  }
  hash.update(JSON.stringify([settings.instanceType, settings.maxInstances, settings.sleepAfter]));
  return hash.digest("hex");
}
