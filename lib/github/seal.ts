/**
 * GitHub takes an Actions secret only sealed to its environment's public key (libsodium `crypto_box_seal`;
 * docs: "Create or update an environment secret"), so Pulumi state holds the sealed text, which only GitHub
 * can open, instead of the value. A sealed box is randomized, which would show every secret as changed on
 * every run; this builds the same box with its ephemeral key pair derived from a keyed hash of (key id,
 * secret name, value). An unchanged value seals to the same text, a changed value or a new GitHub key to a
 * new one. The hash is keyed by the seal key, which only the deploy reads: with it, a sealed text in state
 * would let anyone test a guessed value (its ephemeral public key is the text's first 32 bytes), so no
 * preview ever holds it.
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
  /** The stack's seal key (deploy.sealKeyReference), read by updates only. */
  sealKey: string;
}

/** The sealed box's ephemeral key pair: a keyed hash of (key id, secret name, value) as its seed. */
export async function ephemeralKeyPair({ value, keyId, name, sealKey }: Omit<SealRequest, "publicKey">) {
  await sodium.ready;
  const seed = createHmac("sha256", sealKey)
    .update(`github-seal\0${keyId}\0${name}\0`)
    .update(value)
    .digest();
  return sodium.crypto_box_seed_keypair(new Uint8Array(seed));
}

/** libsodium's crypto_box_seal layout: ephemeral public key, then crypto_box_easy under nonce = blake2b(epk || pk). */
export async function sealForGithub(request: SealRequest): Promise<string> {
  const ephemeral = await ephemeralKeyPair(request);
  const recipient = sodium.from_base64(request.publicKey, sodium.base64_variants.ORIGINAL);
  const nonce = sodium.crypto_generichash(
    sodium.crypto_box_NONCEBYTES,
    concat(ephemeral.publicKey, recipient),
    null,
  );
  const box = sodium.crypto_box_easy(request.value, nonce, recipient, ephemeral.privateKey);
  return sodium.to_base64(concat(ephemeral.publicKey, box), sodium.base64_variants.ORIGINAL);
}

function concat(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first);
  joined.set(second, first.length);
  return joined;
}
