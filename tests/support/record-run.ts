/**
 * Runs the real program once under the mock runtime, in its own process (Node caches the program module,
 * and each `pulumi up` program run is a fresh process too), and prints one JSON document: the recorded
 * resources with secret values unwrapped for assertions, the outputs, and the 1Password calls made.
 *
 * Environment:
 *   RECORD_STACK_FILE    YAML stack file to read config from (default: Pulumi.alpha.yaml)
 *   RECORD_PREVIEW       "true" for a preview run, otherwise an update run
 *   RECORD_CONFIG_OVERRIDES  JSON map of config keys to values laid over the stack file's
 *   RECORD_FAKE_1PASSWORD  "true" to swap the SDK's createClient for a double that counts secret reads,
 *                        records the references asked for, and answers each with `value-of:<reference>`
 *
 * Cloudflare is always the contract-faithful local server of fake-cloudflare.ts; its requests and the
 * registry passwords it issued are part of the JSON document.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { BASE_URL_VARIABLE, TOKEN_VARIABLE } from "../../lib/cloudflare/client";
import { PROJECT } from "../../lib/config";
import { isSecretValue } from "../../lib/plan/mock-runtime";
import { runProgram } from "../../lib/plan/run-program";
import { parseStackFile, projectDefaults } from "../../lib/plan/stack-file";
import { FAKE_TOKEN, startFakeCloudflare } from "./fake-cloudflare";

let onePasswordCalls = 0;
const onePasswordReferences: string[] = [];

/** Answers `caReference` with a real PEM certificate, as the 1Password item would hold one. */
function installCountingOnePassword(caReference: string): void {
  const { certificateAuthority } = require("./test-ca") as typeof import("./test-ca");
  const ca = caReference === "" ? "" : certificateAuthority("Test Supabase Root CA").certificate;
  const sdk = require("@1password/sdk") as Record<string, unknown>;
  const fake = async () => {
    return {
      secrets: {
        resolveAll: async (references: string[]) => {
          onePasswordCalls++;
          onePasswordReferences.push(...references);
          return {
            individualResponses: Object.fromEntries(
              references.map((reference) => [
                reference,
                {
                  content: {
                    secret: reference === caReference ? ca : `value-of:${reference}`,
                    itemId: "item",
                    // One id per vault, as 1Password has it.
                    vaultId: `vault-id-${reference.split("/")[2]}`,
                  },
                },
              ]),
            ),
          };
        },
      },
      vaults: {
        list: async () => {
          onePasswordCalls++;
          return [];
        },
      },
    };
  };
  Object.defineProperty(sdk, "createClient", { value: fake, configurable: true, writable: true });
  process.env.OP_SERVICE_ACCOUNT_TOKEN ??= "ops_counting-double";
}

/** What the providers' creates would report: a digest per build input, a generation, the Worker's namespace. */
function providerOutputs(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  if (type === "docker:index/image:Image") {
    const { imageName, build } = inputs as { imageName: string; build: unknown };
    const digest = createHash("sha256")
      .update(JSON.stringify([imageName, build]))
      .digest("hex");
    return { repoDigest: `${imageName.replace(/:[^:/]+$/, "")}@sha256:${digest}` };
  }
  if (type === "pulumi-nodejs:dynamic/spectral:DeploymentGeneration") return { generation: 1 };
  // As the upload reports it: the namespace Cloudflare assigned, the tag after the migrations.
  if (type === "pulumi-nodejs:dynamic/spectral:WorkerScript")
    return {
      namespaceId: "do-namespace-spectral-app",
      migrationTag: "v1",
      workersDevUrl: `https://${inputs.scriptName}.spectral-test.workers.dev`,
    };
  if (type === "pulumi-nodejs:dynamic/spectral:ContainerApplication") return { applicationId: "app-id" };
  if (type === "pulumi-nodejs:dynamic/spectral:DeployVerification")
    return { servingGeneration: inputs.generation };
  return {};
}

/**
 * GitHub's environment key pair as the mocks hand it out: fixed, so two runs seal alike, and its secret half
 * is in the JSON document, so tests can open what was sealed as GitHub would.
 */
const GITHUB_KEY_SEED = new Uint8Array(32).fill(7);
const GITHUB_KEY_ID = "568250167242549743";

async function githubEnvironmentKey(): Promise<{ publicKey: string; privateKey: string; keyId: string }> {
  const sodium = (await import("libsodium-wrappers")).default;
  await sodium.ready;
  const pair = sodium.crypto_box_seed_keypair(GITHUB_KEY_SEED);
  const base64 = (bytes: Uint8Array) => sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
  return { publicKey: base64(pair.publicKey), privateKey: base64(pair.privateKey), keyId: GITHUB_KEY_ID };
}

function unwrapSecrets(value: unknown): unknown {
  if (isSecretValue(value)) return { secret: unwrapSecrets(value.value) };
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, unwrapSecrets(inner)]));
  }
  return value;
}

async function main(): Promise<void> {
  const stackFile = resolve(process.env.RECORD_STACK_FILE ?? resolve(__dirname, "../../Pulumi.alpha.yaml"));
  const stack = /Pulumi\.(.+)\.yaml$/.exec(stackFile)?.[1] ?? "alpha";
  const cloudflare = await startFakeCloudflare();
  process.env[BASE_URL_VARIABLE] = cloudflare.baseUrl;
  process.env[TOKEN_VARIABLE] ??= FAKE_TOKEN;
  // The stack file may live in a test's own folder; the project's defaults come from the checkout.
  const stackConfig = parseStackFile(
    readFileSync(stackFile, "utf8"),
    PROJECT,
    projectDefaults(resolve(__dirname, "../..")),
  );
  const overrides = JSON.parse(process.env.RECORD_CONFIG_OVERRIDES ?? "{}") as Record<string, string>;
  const config = { ...stackConfig.config, ...overrides };
  if (process.env.RECORD_FAKE_1PASSWORD === "true")
    installCountingOnePassword(config[`${PROJECT}:database.caReference`] ?? "");
  const githubKey = await githubEnvironmentKey();
  const run = await runProgram(
    {
      stack,
      preview: process.env.RECORD_PREVIEW === "true",
      providerOutputs,
      invokeOutputs: (token, inputs) =>
        token === "github:index/getActionsEnvironmentPublicKey:getActionsEnvironmentPublicKey"
          ? { ...inputs, id: "public-key", key: githubKey.publicKey, keyId: githubKey.keyId }
          : undefined,
      ...stackConfig,
      config,
    },
    async () => require("../../index"),
  );
  const resources = run.resources.map((resource) => ({
    ...resource,
    inputs: unwrapSecrets(resource.inputs),
  }));
  await cloudflare.close();
  const { requests: cloudflareRequests, issuedPasswords } = cloudflare;
  process.stdout.write(
    JSON.stringify({
      resources,
      outputs: run.outputs,
      onePasswordCalls,
      onePasswordReferences,
      cloudflareRequests,
      issuedPasswords,
      githubKey,
    }),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`record-run: ${(error as Error)?.message ?? String(error)}\n`);
  process.exit(1);
});
