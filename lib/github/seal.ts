/**
 * GitHub takes an Actions secret only sealed to its environment's public key (libsodium `crypto_box_seal`;
 * docs: "Create or update an environment secret"), so Pulumi state holds the sealed text, which only GitHub
 * can open, instead of the value. A sealed box is randomized, which would show every secret as changed on
 * every run; this builds the same box with its ephemeral key pair derived from a keyed hash of (key id,
 * secret name, value). An unchanged value seals to the same text, a changed value or a new GitHub key to a
 * new one, and without the digest key no one can predict or reproduce the ephemeral key.
 */
import { createHmac } from "node:crypto";
import sodium from "libsodium-wrappers";

export interface SealRequest {
  /** The secret's value. */
  value: string;
  /** The environment's public key, base64, as GitHub returns it. */
  publicKey: string;
  keyId: string;
  /** The secret's name: part of the derivation, so two secrets with one value seal differently. */
  name: string;
  /** The stack's digest key (deploy.digestKeyReference). */
  digestKey: string;
}

/** libsodium's crypto_box_seal layout: ephemeral public key, then crypto_box_easy under nonce = blake2b(epk || pk). */
export async function sealForGithub({
  value,
  publicKey,
  keyId,
  name,
  digestKey,
}: SealRequest): Promise<string> {
  await sodium.ready;
  const recipient = sodium.from_base64(publicKey, sodium.base64_variants.ORIGINAL);
  const seed = createHmac("sha256", digestKey)
    .update(`github-seal\0${keyId}\0${name}\0`)
    .update(value)
    .digest();
  const ephemeral = sodium.crypto_box_seed_keypair(new Uint8Array(seed));
  const nonce = sodium.crypto_generichash(
    sodium.crypto_box_NONCEBYTES,
    concat(ephemeral.publicKey, recipient),
    null,
  );
  const box = sodium.crypto_box_easy(value, nonce, recipient, ephemeral.privateKey);
  return sodium.to_base64(concat(ephemeral.publicKey, box), sodium.base64_variants.ORIGINAL);
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}
