/**
 * Where secret values come from. Every source resolves the whole request in one go, so one program run
 * reads 1Password once, and no source ever logs or echoes a value.
 */
import { readFileSync } from "node:fs";
import * as pulumi from "@pulumi/pulumi";
import { parseSecretsFile, SecretsFileError } from "./secrets-file";

/** One value to fetch: `key` names it in the result (a secret's name), `reference` says where it lives. */
export interface SecretRequest {
  key: string;
  reference: string;
}

export interface SecretSource {
  /** Short label for messages, e.g. "1Password". */
  readonly label: string;
  /** True when values are stand-ins (`placeholder-<name>`): checks of a value's content do not apply. */
  readonly placeholders?: boolean;
  /**
   * True when the program itself hands the deploy database URL to DeploymentGeneration (a dev stack's local
   * file); otherwise the provider reads `database.deployUrlReference` from 1Password at create time.
   */
  readonly handsOverDatabaseUrl?: boolean;
  /**
   * 1Password's vault id of each reference it can place (after `resolve`, which learns most of them), so
   * that vaults are compared by identity, not by how a reference spells them.
   */
  vaultIds?(references: readonly string[]): Promise<Map<string, string>>;
  /** Resolves every request or throws one SecretSourceError naming every failure; values keyed by `key`. */
  resolve(requests: readonly SecretRequest[]): Promise<Record<string, string>>;
}

/**
 * A secret could not be fetched or does not fit where it goes. A RunError, so Pulumi prints only the
 * message (no stack trace), and the message names secrets and references, never values.
 */
export class SecretSourceError extends pulumi.RunError {
  constructor(message: string) {
    super(message);
    this.name = "SecretSourceError";
  }
}

/** The offline plan's source: no network, no files; every value is a recognizable placeholder. */
export class PlaceholderSecretSource implements SecretSource {
  readonly label = "placeholder";
  readonly placeholders = true;

  async resolve(requests: readonly SecretRequest[]): Promise<Record<string, string>> {
    return Object.fromEntries(requests.map(({ key }) => [key, `placeholder-${key.toLowerCase()}`]));
  }
}

/**
 * A dotenv-style file keyed by secret name (`STRIPE_SECRET_KEY=...`), for the local compose flow and tests,
 * read strictly (secrets-file.ts). Multi-line values (certificates) use the double-quoted form.
 */
export class LocalFileSecretSource implements SecretSource {
  readonly label: string;
  readonly handsOverDatabaseUrl = true;

  constructor(private readonly file: string) {
    this.label = `local file ${file}`;
  }

  async resolve(requests: readonly SecretRequest[]): Promise<Record<string, string>> {
    let text: string;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (error) {
      throw new SecretSourceError(
        `${this.file}: cannot read the local secrets file (${(error as NodeJS.ErrnoException).code ?? "error"}); create it with one NAME=value line per secret`,
      );
    }
    let values: Record<string, string>;
    try {
      values = parseSecretsFile(text, this.file);
    } catch (error) {
      if (error instanceof SecretsFileError) throw new SecretSourceError(error.message);
      throw error;
    }
    const missing = requests.filter(({ key }) => values[key] === undefined).map(({ key }) => key);
    if (missing.length > 0) {
      throw new SecretSourceError(
        `${this.file}: has no value for ${missing.join(", ")}; add a NAME=value line for each`,
      );
    }
    return Object.fromEntries(requests.map(({ key }) => [key, values[key]]));
  }
}
