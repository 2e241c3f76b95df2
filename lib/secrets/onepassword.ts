/**
 * The 1Password source: every reference in one `secrets.resolveAll` call per program run. The SDK's
 * client authenticates over the network as it is created, so it is created only when values are needed,
 * and it sits behind `OnePasswordApi` so tests can stand in for it.
 */
import { AuthExpiredError, RateLimitExceededError, type ResolveAllResponse } from "@1password/sdk";
import { type SecretRequest, type SecretSource, SecretSourceError } from "./source";
import { vaultName } from "./vaults";

/** The part of the SDK's client this program uses. */
export interface OnePasswordApi {
  resolveAll(references: string[]): Promise<ResolveAllResponse>;
  /** The vaults this service account can read, with their ids and titles. */
  listVaults(): Promise<{ id: string; title: string }[]>;
}

export const TOKEN_VARIABLE = "OP_SERVICE_ACCOUNT_TOKEN";

/** Connects with the service-account token from the environment; the token is never stored or echoed. */
export async function connectWithServiceAccount(): Promise<OnePasswordApi> {
  const token = process.env[TOKEN_VARIABLE];
  if (!token) {
    throw new SecretSourceError(
      `${TOKEN_VARIABLE} is not set: export a 1Password service-account token with read access to the stack's vault`,
    );
  }
  const { createClient } = await import("@1password/sdk");
  const { version } = require("../../package.json") as { version: string };
  const client = await createClient({
    auth: token,
    integrationName: "spectral-infra",
    integrationVersion: version,
  });
  return {
    resolveAll: (references) => client.secrets.resolveAll(references),
    listVaults: () => client.vaults.list(),
  };
}

function explain(error: unknown): SecretSourceError {
  if (error instanceof SecretSourceError) return error;
  if (error instanceof RateLimitExceededError) {
    return new SecretSourceError(
      "1Password rate limit exceeded for this service account (a Business token allows 10,000 reads per hour); wait and re-run, or use a separate token for CI",
    );
  }
  if (error instanceof AuthExpiredError) {
    return new SecretSourceError(
      `1Password rejected the service-account token as expired or revoked; issue a new one and export it as ${TOKEN_VARIABLE}`,
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  const token = process.env[TOKEN_VARIABLE];
  return new SecretSourceError(
    `1Password could not be reached or refused the request: ${token ? detail.split(token).join("[token]") : detail}`,
  );
}

export class OnePasswordSecretSource implements SecretSource {
  readonly label = "1Password";
  private api: Promise<OnePasswordApi> | undefined;
  /** The vault id of each reference this run resolved, as 1Password answered it. */
  private readonly resolvedVaults = new Map<string, string>();

  constructor(private readonly connect: () => Promise<OnePasswordApi> = connectWithServiceAccount) {}

  private client(): Promise<OnePasswordApi> {
    this.api ??= this.connect();
    return this.api;
  }

  async resolve(requests: readonly SecretRequest[]): Promise<Record<string, string>> {
    const references = [...new Set(requests.map(({ reference }) => reference))];
    let response: ResolveAllResponse;
    try {
      response = await (await this.client()).resolveAll(references);
    } catch (error) {
      throw explain(error);
    }
    for (const [reference, answer] of Object.entries(response.individualResponses))
      if (answer?.content) this.resolvedVaults.set(reference, answer.content.vaultId);
    const values: Record<string, string> = {};
    const failures: string[] = [];
    for (const { key, reference } of requests) {
      const answer = response.individualResponses[reference];
      if (answer?.content !== undefined) values[key] = answer.content.secret;
      else failures.push(`  ${key} (${reference}): ${describeFailure(answer?.error)}`);
    }
    if (failures.length > 0) {
      throw new SecretSourceError(
        `1Password could not resolve ${failures.length} reference(s):\n${failures.join("\n")}`,
      );
    }
    return values;
  }

  /**
   * The vault id of each reference: from this run's read where it resolved a reference in the same vault
   * (by the written name), else from one list of the vaults, only when some vault is still unknown. A vault
   * this service account cannot see stays unknown.
   */
  async vaultIds(references: readonly string[]): Promise<Map<string, string>> {
    const byWritten = new Map([...this.resolvedVaults].map(([reference, id]) => [vaultName(reference), id]));
    if (references.some((reference) => !byWritten.has(vaultName(reference)))) {
      let listed: { id: string; title: string }[];
      try {
        listed = await (await this.client()).listVaults();
      } catch (error) {
        throw explain(error);
      }
      for (const { id, title } of listed) {
        byWritten.set(title.toLowerCase(), id);
        byWritten.set(id.toLowerCase(), id);
      }
    }
    const ids = new Map<string, string>();
    for (const reference of references) {
      const id = this.resolvedVaults.get(reference) ?? byWritten.get(vaultName(reference));
      if (id !== undefined) ids.set(reference, id);
    }
    return ids;
  }
}

type ReferenceError = NonNullable<ResolveAllResponse["individualResponses"][string]["error"]>;

function describeFailure(error: ReferenceError | undefined): string {
  if (error === undefined) return "no answer for this reference";
  const hints: Partial<Record<ReferenceError["type"], string>> = {
    vaultNotFound: "check the vault name and that the service account can read it",
    itemNotFound: "check the item name in the reference",
    fieldNotFound: "check the field (or file) name in the reference",
    unsupportedFileFormat:
      "1Password resolves only text attachments by reference; store the file as text (for example base64)",
  };
  const hint = hints[error.type];
  return [error.type, error.message, hint].filter(Boolean).join(": ");
}
