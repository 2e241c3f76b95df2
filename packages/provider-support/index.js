// Shared by the program and its dynamic providers. A provider is serialized as a closure and run by the
// engine in another process, where it can `require` packages but not the program's own TypeScript modules:
// so this is a plain CommonJS package, linked into node_modules, and each provider requires it inside its
// methods. It reads credentials from the environment when called and never stores or echoes them.
// The call policy (time bounds, retries, the operator's error sentence) is in calls.js; what the runs after
// the first decide (changed inputs, objects held by another resource) in lifecycle.js.

const calls = require("./calls");
const lifecycle = require("./lifecycle");

// Loaded by a provider method, so this process is a dynamic-provider host: it ends with its engine.
require("./engine-watch").watchEngine();

const TOKEN_VARIABLE = "CLOUDFLARE_API_TOKEN";
/** Points the SDK at another API root (the tests' contract-faithful stand-in). */
const BASE_URL_VARIABLE = "CLOUDFLARE_API_BASE_URL";
const CLOUDFLARE_API = "https://api.cloudflare.com/client/v4";

/**
 * The official Cloudflare SDK with the token from the environment, for one attempt of a call: every
 * request is bounded by `timeoutMs` (our fetch; the SDK's own timer is a fallback a second later), must
 * answer JSON, and is never retried by the SDK (callService decides). `permission` names what the token
 * needs.
 */
function cloudflareClient({ permission, timeoutMs, environment = process.env }) {
  const { default: Client } = require("cloudflare");
  const apiToken = environment[TOKEN_VARIABLE];
  if (!apiToken) {
    throw new Error(
      `${TOKEN_VARIABLE} is not set: export a Cloudflare API token with the permission ${permission}`,
    );
  }
  return new Client({
    apiToken,
    baseURL: environment[BASE_URL_VARIABLE] || undefined,
    maxRetries: 0,
    timeout: timeoutMs + 1000,
    fetch: calls.boundedFetch({ timeoutMs, expectJson: true }),
  });
}

/** host[:port] of the Cloudflare API this environment talks to. */
function cloudflareHost(environment = process.env) {
  return new URL(environment[BASE_URL_VARIABLE] || CLOUDFLARE_API).host;
}

/**
 * `use(client)` under the call policy, with a fresh client per attempt (each bounded by what is left).
 * `call` is callService's, without service and host.
 */
function cloudflareCall(call, use, environment = process.env) {
  return calls.callService(
    { ...call, service: "the Cloudflare API", host: cloudflareHost(environment) },
    (timeoutMs) => use(cloudflareClient({ permission: call.permission, timeoutMs, environment })),
  );
}

const ONE_PASSWORD_TOKEN = "OP_SERVICE_ACCOUNT_TOKEN";

/** The value behind one 1Password reference, read with the service-account token in the environment. */
async function readOnePasswordReference(
  reference,
  setting,
  timeoutSeconds = calls.DEFAULT_LIMITS.requestTimeoutSeconds,
) {
  const token = process.env[ONE_PASSWORD_TOKEN];
  if (!token) {
    throw new Error(
      `${ONE_PASSWORD_TOKEN} is not set: reading ${setting} (${reference}) needs the deploy's 1Password service-account token`,
    );
  }
  const { createClient } = require("@1password/sdk");
  let timer;
  const hung = new Promise((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${timeoutSeconds} s`)),
      timeoutSeconds * 1000,
    );
  });
  try {
    const read = (async () => {
      const client = await createClient({
        auth: token,
        integrationName: "spectral-infra",
        integrationVersion: "provider",
      });
      return client.secrets.resolve(reference);
    })();
    return await Promise.race([read, hung]);
  } catch (error) {
    const detail = String(error?.message ?? error)
      .split(token)
      .join("[token]");
    throw new Error(
      `1Password could not resolve ${setting} (${reference}): ${detail}; check that the deploy's service account can read that vault and that this machine reaches 1Password`,
    );
  } finally {
    clearTimeout(timer);
  }
}

module.exports = {
  TOKEN_VARIABLE,
  BASE_URL_VARIABLE,
  DEFAULT_LIMITS: calls.DEFAULT_LIMITS,
  ServiceError: calls.ServiceError,
  boundedFetch: calls.boundedFetch,
  callService: calls.callService,
  httpCall: calls.httpCall,
  attemptWords: calls.attemptWords,
  cloudflareClient,
  cloudflareCall,
  cloudflareHost,
  readOnePasswordReference,
  changedInputs: lifecycle.changedInputs,
  declareObject: lifecycle.declareObject,
  declaredByProgram: lifecycle.declaredByProgram,
  forgetDeclaredObjects: lifecycle.forgetDeclaredObjects,
  UNKNOWN: lifecycle.UNKNOWN,
};
