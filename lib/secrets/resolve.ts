/**
 * The program's single read of secret values: the manifest plus the deploy database URL, from the source
 * the environment selects, checked for size, and wrapped as a Pulumi secret the moment it arrives.
 */
import { X509Certificate } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { BASE_URL_VARIABLE } from "../cloudflare/client";
import type { SecretEntry, StackConfig } from "../config";
import { describeProblems } from "../config-path";
import { DIGEST_KEY_MIN_LENGTH } from "../deploy/fingerprint";
import { secretSizeProblems } from "./bindings";
import { OnePasswordSecretSource } from "./onepassword";
import {
  LocalFileSecretSource,
  PlaceholderSecretSource,
  type SecretRequest,
  type SecretSource,
  SecretSourceError,
} from "./source";
import { deployCredentialVaultProblems, vaultName } from "./vaults";

export const SOURCE_VARIABLE = "SPECTRAL_SECRET_SOURCE";
/** The deploy URL's name among the requests (and in a local secrets file); the manifest may not use it. */
export const DEPLOY_DATABASE_URL = "DEPLOY_DATABASE_URL";
/** The digest key's name among the requests (and in a local secrets file); the manifest may not use it. */
export const DEPLOY_DIGEST_KEY = "DEPLOY_DIGEST_KEY";
/** The GitHub seal key's name among the requests (and in a local secrets file); read by updates only. */
export const DEPLOY_SEAL_KEY = "DEPLOY_SEAL_KEY";
/** The database CA's name among the requests (and in a local secrets file), when the stack names one. */
export const DEPLOY_DATABASE_CA = "DEPLOY_DATABASE_CA";

/** The config key by which a dev stack opts into a local secrets file (lib/config.ts). */
export const LOCAL_SECRETS_FILE_KEY = "deploy.localSecretsFile";

export interface SourceChoice {
  /** The stack's `deploy.localSecretsFile`: "" for 1Password, a path for a dev stack that opted in. */
  localSecretsFile: string;
  /** True in a preview (and the offline plan), where nothing is written. */
  preview: boolean;
}

/** Whether a URL points at this machine (a stand-in), never at a real account. */
export function isLoopbackUrl(url: string): boolean {
  try {
    const host = new URL(url).hostname.replace(/^\[|\]$/g, "");
    return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
  } catch {
    return false;
  }
}

/**
 * Where this run's secrets come from. The stack's config decides, never the shell: 1Password, or the
 * local file a dev stack names in `deploy.localSecretsFile`, and that only against a Cloudflare API stand-in
 * on loopback (`pnpm standins`), so that test values never reach a real account. `SPECTRAL_SECRET_SOURCE=placeholder` serves
 * previews only; an update refuses it, because it would overwrite every GitHub secret and Worker binding
 * with `placeholder-<name>` while the preview showed only `[secret]`.
 */
export function chooseSecretSource(
  { localSecretsFile, preview }: SourceChoice,
  env: NodeJS.ProcessEnv = process.env,
): SecretSource {
  const override = env[SOURCE_VARIABLE] ?? "";
  if (override === "placeholder" && preview) return new PlaceholderSecretSource();
  if (override === "placeholder") {
    throw new SecretSourceError(
      `${SOURCE_VARIABLE}=placeholder: placeholder values are for previews only, and this is an update that would deploy them to every GitHub secret and Worker binding; unset ${SOURCE_VARIABLE}`,
    );
  }
  if (override !== "") {
    throw new SecretSourceError(
      `${SOURCE_VARIABLE}=${override}: the only value is "placeholder", for previews; secrets come from 1Password, or from a local file only on a stack that opts in with: pulumi config set ${LOCAL_SECRETS_FILE_KEY} <file>`,
    );
  }
  if (localSecretsFile === "") return new OnePasswordSecretSource();
  const api = env[BASE_URL_VARIABLE] ?? "";
  if (!isLoopbackUrl(api)) {
    throw new SecretSourceError(
      `${LOCAL_SECRETS_FILE_KEY} is set (${localSecretsFile}), but ${BASE_URL_VARIABLE} ${api === "" ? "is not set, so the Cloudflare API is Cloudflare's own" : `is ${api}, not a stand-in on loopback`}: a local secrets file is only for the stand-ins (pnpm standins). For a real account, remove it (pulumi config rm ${LOCAL_SECRETS_FILE_KEY}) and read 1Password`,
    );
  }
  return new LocalFileSecretSource(localSecretsFile);
}

/**
 * How the deploy database is reached. From 1Password, only its reference enters the program: the
 * DeploymentGeneration provider reads the URL itself when it allocates a generation, so the URL never
 * enters Pulumi state, where anyone who may run a preview could decrypt it. A dev stack's local file hands
 * the URL over (its own loopback database).
 */
export type DeployDatabase = { reference: string } | { url: pulumi.Output<string> };

export interface StackSecrets {
  /** The values of every secret that targets the container (GitHub too, or not): one Pulumi secret. */
  values: pulumi.Output<Record<string, string>>;
  /**
   * GitHub-only secrets (deploy credentials): read in an update only, unknown in every preview, so a
   * preview's 1Password token needs no access to them.
   */
  githubOnlyValues: pulumi.Output<Record<string, string>>;
  deployDatabase: DeployDatabase;
  /** Keys the digests of secret values (lib/deploy/fingerprint.ts). */
  digestKey: pulumi.Output<string>;
  /** Keys the GitHub secrets' sealing (lib/github/seal.ts): read in an update only, unknown in a preview. */
  sealKey: pulumi.Output<string>;
  /** The deployment database's root CA (PEM), or "" when the stack names none. Public, yet it arrives
   * with the secrets and is kept as one, so no plan shows a stand-in value. */
  databaseCa: pulumi.Output<string>;
}

/**
 * Reads every value this run needs in one request, checks sizes, and wraps the results as Pulumi secrets at
 * once. A preview reads no deploy credential: no GitHub-only secret, no database URL and no seal key.
 */
export async function resolveStackSecrets(
  config: StackConfig,
  source: SecretSource,
  { preview }: { preview: boolean },
): Promise<StackSecrets> {
  const forContainer = config.secrets.filter(({ targets }) => targets.includes("container"));
  const githubOnly = config.secrets.filter(({ targets }) => !targets.includes("container"));
  const read = preview ? forContainer : config.secrets;
  const requests: SecretRequest[] = [
    ...read.map(({ name, reference }) => ({ key: name, reference })),
    { key: DEPLOY_DIGEST_KEY, reference: config["deploy.digestKeyReference"] },
  ];
  if (!preview) requests.push({ key: DEPLOY_SEAL_KEY, reference: config["deploy.sealKeyReference"] });
  const caReference = config["database.caReference"];
  if (caReference !== "") requests.push({ key: DEPLOY_DATABASE_CA, reference: caReference });
  const urlReference = config["database.deployUrlReference"];
  if (source.handsOverDatabaseUrl) requests.push({ key: DEPLOY_DATABASE_URL, reference: urlReference });
  const {
    [DEPLOY_DATABASE_URL]: deployDatabaseUrl = "",
    [DEPLOY_DIGEST_KEY]: digestKey,
    [DEPLOY_SEAL_KEY]: sealKey = "",
    [DEPLOY_DATABASE_CA]: databaseCa = "",
    ...values
  } = await source.resolve(requests);
  const problems = [
    ...secretSizeProblems(read, values),
    ...(await sharedVaultProblems(config, source, preview)),
  ];
  const keys: [string, string, string][] = [[DEPLOY_DIGEST_KEY, "deploy.digestKeyReference", digestKey]];
  if (!preview) keys.push([DEPLOY_SEAL_KEY, "deploy.sealKeyReference", sealKey]);
  for (const [name, setting, key] of keys) {
    if (key.length < DIGEST_KEY_MIN_LENGTH)
      problems.push(
        `${name} (${setting}): is ${key.length} characters; it must be a random key of at least ${DIGEST_KEY_MIN_LENGTH} (e.g. openssl rand -hex 32)`,
      );
  }
  if (databaseCa !== "" && !source.placeholders && !isPemCertificate(databaseCa)) {
    problems.push(
      `${DEPLOY_DATABASE_CA} (database.caReference): is not a PEM certificate; the item must hold the CA's -----BEGIN CERTIFICATE----- text`,
    );
  }
  if (problems.length > 0) {
    throw new SecretSourceError(
      `secrets from ${source.label} do not fit their targets:\n  ${problems.join("\n  ")}`,
    );
  }
  const pick = (entries: readonly SecretEntry[]) =>
    Object.fromEntries(entries.map(({ name }) => [name, values[name]]));
  return {
    values: pulumi.secret(pick(forContainer)),
    githubOnlyValues: preview
      ? (pulumi.secret(pulumi.unknown) as pulumi.Output<Record<string, string>>)
      : pulumi.secret(pick(githubOnly)),
    deployDatabase: source.handsOverDatabaseUrl
      ? { url: pulumi.secret(deployDatabaseUrl) }
      : { reference: urlReference },
    digestKey: pulumi.secret(digestKey),
    sealKey: preview ? (pulumi.secret(pulumi.unknown) as pulumi.Output<string>) : pulumi.secret(sealKey),
    databaseCa: pulumi.secret(databaseCa),
  };
}

/**
 * An update knows 1Password's vault ids: a deploy credential in a vault a preview reads is refused even when
 * the two references spell the vault differently (one by title, one by id). Config validation compared the
 * spellings already; a preview reads no deploy credential, so it has nothing to compare.
 */
async function sharedVaultProblems(config: StackConfig, source: SecretSource, preview: boolean) {
  if (preview || !source.vaultIds) return [];
  const references = [
    ...config.secrets.map(({ reference }) => reference),
    config["database.deployUrlReference"],
    config["deploy.digestKeyReference"],
    config["deploy.sealKeyReference"],
    config["database.caReference"],
  ].filter((reference) => reference !== "");
  const ids = await source.vaultIds(references);
  const problems = deployCredentialVaultProblems(
    config,
    (reference) => ids.get(reference) ?? vaultName(reference),
  );
  return describeProblems(problems, config as unknown as Record<string, unknown>);
}

function isPemCertificate(text: string): boolean {
  try {
    new X509Certificate(text);
    return text.includes("-----BEGIN CERTIFICATE-----");
  } catch {
    return false;
  }
}
