/**
 * The 1Password source: every reference in one `secrets.resolveAll` call per program run. The SDK's
 * client authenticates over the network as it is created, so it is created only when values are needed,
 * and it sits behind `OnePasswordApi` so tests can stand in for it.
 */
import { AuthExpiredError, RateLimitExceededError, type ResolveAllResponse } from "@1password/sdk";
import { type SecretRequest, type SecretSource, SecretSourceError } from "./source";

/** The part of the SDK's client this program uses. */
export interface OnePasswordApi {
  resolveAll(references: string[]): Promise<ResolveAllResponse>;
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
  return { resolveAll: (references) => client.secrets.resolveAll(references) };
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

  constructor(private readonly connect: () => Promise<OnePasswordApi> = connectWithServiceAccount) {}

  async resolve(requests: readonly SecretRequest[]): Promise<Record<string, string>> {
    const references = [...new Set(requests.map(({ reference }) => reference))];
    let response: ResolveAllResponse;
    try {
      const api = await this.connect();
      response = await api.resolveAll(references);
    } catch (error) {
      throw explain(error);
    }
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
