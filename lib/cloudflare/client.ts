/**
 * The official Cloudflare SDK, configured from the environment, and Cloudflare's errors in operator terms.
 * The token is read from CLOUDFLARE_API_TOKEN when a call is about to be made, and never stored.
 */
import type Cloudflare from "cloudflare";

export const TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN";
/** Points the SDK at another API root (the tests' contract-faithful local server). */
export const BASE_URL_VARIABLE = "CLOUDFLARE_API_BASE_URL";

export function cloudflareClient(environment: NodeJS.ProcessEnv = process.env): Cloudflare {
  const { default: Client } = require("cloudflare") as typeof import("cloudflare");
  const apiToken = environment[TOKEN_VARIABLE];
  if (!apiToken) {
    throw new Error(
      `${TOKEN_VARIABLE} is not set: export a Cloudflare API token with Workers Scripts and Containers edit rights`,
    );
  }
  return new Client({ apiToken, baseURL: environment[BASE_URL_VARIABLE] || undefined, maxRetries: 2 });
}

/** "Cloudflare API <status> [code 1234: message; ...] while <doing>", or the error's own message. */
export function describeCloudflareError(error: unknown, doing: string): string {
  const { status, errors } = error as { status?: number; errors?: { code?: number; message?: string }[] };
  if (typeof status === "number") {
    const details = (errors ?? []).map((each) => `code ${each.code}: ${each.message}`).join("; ");
    return `Cloudflare API ${status}${details ? ` [${details}]` : ""} while ${doing}`;
  }
  return `${(error as Error)?.message ?? String(error)} while ${doing}`;
}
