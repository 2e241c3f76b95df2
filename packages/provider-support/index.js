// Shared by the program and its dynamic providers. A provider is serialized as a closure and run by the
// engine in another process, where it can `require` packages but not the program's own TypeScript modules:
// so this is a plain CommonJS package, linked into node_modules, and each provider requires it inside its
// methods. It reads credentials from the environment when called and never stores or echoes them.

const TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN";
/** Points the SDK at another API root (the tests' contract-faithful stand-in). */
const BASE_URL_VARIABLE = "CLOUDFLARE_API_BASE_URL";

/** The official Cloudflare SDK with the token from the environment; `rights` names what the token needs. */
function cloudflareClient({ rights, maxRetries, environment = process.env }) {
  const { default: Client } = require("cloudflare");
  const apiToken = environment[TOKEN_VARIABLE];
  if (!apiToken) {
    throw new Error(`${TOKEN_VARIABLE} is not set: export a Cloudflare API token with ${rights} rights`);
  }
  return new Client({ apiToken, baseURL: environment[BASE_URL_VARIABLE] || undefined, maxRetries });
}

/** One error's words: the containers API nests `{"error","details"}` JSON in its messages. */
function errorWords({ code, message }) {
  try {
    const nested = JSON.parse(message);
    if (nested?.error) {
      return `${nested.error}${nested.details === undefined ? "" : ` ${JSON.stringify(nested.details)}`}`;
    }
  } catch {
    // A plain message.
  }
  return `code ${code}: ${message}`;
}

/** "Cloudflare API <status> [code 1234: message; ...] while <doing>", or the error's own message. */
function describeCloudflareError(error, doing) {
  const { status, errors, message } = error ?? {};
  if (typeof status !== "number") return `${message ?? String(error)} while ${doing}`;
  const details = (errors ?? []).map(errorWords).join("; ");
  return `Cloudflare API ${status}${details ? ` [${details}]` : ""} while ${doing}`;
}

const ONE_PASSWORD_TOKEN = "OP_SERVICE_ACCOUNT_TOKEN";

/** The value behind one 1Password reference, read with the service-account token in the environment. */
async function readOnePasswordReference(reference, setting) {
  const token = process.env[ONE_PASSWORD_TOKEN];
  if (!token) {
    throw new Error(
      `${ONE_PASSWORD_TOKEN} is not set: reading ${setting} (${reference}) needs the deploy's 1Password service-account token`,
    );
  }
  const { createClient } = require("@1password/sdk");
  try {
    const client = await createClient({
      auth: token,
      integrationName: "spectral-infra",
      integrationVersion: "provider",
    });
    return await client.secrets.resolve(reference);
  } catch (error) {
    const detail = String(error?.message ?? error)
      .split(token)
      .join("[token]");
    throw new Error(
      `1Password could not resolve ${setting} (${reference}): ${detail}; check that the deploy's service account can read that vault`,
    );
  }
}

module.exports = {
  TOKEN_VARIABLE,
  BASE_URL_VARIABLE,
  cloudflareClient,
  describeCloudflareError,
  readOnePasswordReference,
};
