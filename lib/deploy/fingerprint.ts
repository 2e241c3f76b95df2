/**
 * Digests of what a running container was started with, keyed by the stack's digest key (a random secret
 * from 1Password, `deploy.digestKeyReference`): HMAC-SHA256, so a digest in plaintext state or in a preview
 * says whether a value changed and nothing about the value (an unkeyed hash of a 6-digit PIN is reversed in
 * seconds). Ordering is by code unit, never by locale, so a machine's language cannot change a digest.
 *
 *   deploymentFingerprint  the Worker bindings the container receives and the container settings: a change
 *                          needs a new generation and a restart (a running container keeps its environment),
 *                          so DeploymentGeneration replaces on a changed fingerprint;
 *   bindingDigest          one binding's value: shown next to each secret binding, so a plan or preview names
 *                          the binding a rotation changes.
 */
import { createHmac } from "node:crypto";
import type { WorkerBinding } from "../secrets/bindings";

export interface ContainerSettings {
  instanceType: string;
  maxInstances: number;
  sleepAfter: string;
}

/** Digest keys shorter than this are refused: the key is all that keeps a digest from being guessed. */
export const DIGEST_KEY_MIN_LENGTH = 24;

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export function deploymentFingerprint(
  bindings: readonly WorkerBinding[],
  settings: ContainerSettings,
  key: string,
): string {
  const hmac = createHmac("sha256", key);
  for (const binding of [...bindings].sort(byName)) {
    hmac.update(`${binding.type}\0${binding.name}\0${Buffer.byteLength(binding.text)}\0${binding.text}\0`);
  }
  hmac.update(JSON.stringify([settings.instanceType, settings.maxInstances, settings.sleepAfter]));
  return hmac.digest("hex");
}

export function bindingDigest(key: string, binding: Pick<WorkerBinding, "name" | "text">): string {
  return createHmac("sha256", key).update(`${binding.name}\0${binding.text}`).digest("hex").slice(0, 16);
}
