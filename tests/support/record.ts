/** Runs tests/support/record-run.ts in a fresh process: one program run, as `pulumi` would make it. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseStackConfig } from "../../lib/config";
import type { RecordedResource } from "../../lib/plan/mock-runtime";
import { alphaConfig, REPO_ROOT } from "./alpha";
import type { RecordedRequest } from "./fake-cloudflare";

export interface RecordedRun {
  status: number | null;
  stdout: string;
  stderr: string;
  resources: RecordedResource[];
  outputs: Record<string, unknown>;
  onePasswordCalls: number;
  /** Every reference the 1Password double was asked for (RECORD_FAKE_1PASSWORD). */
  onePasswordReferences: string[];
  cloudflareRequests: RecordedRequest[];
  /** Registry passwords the fake Cloudflare handed out during the run. */
  issuedPasswords: string[];
  /** The GitHub environment key pair the mocks answered with (base64), to open sealed secrets. */
  githubKey: { publicKey: string; privateKey: string; keyId: string };
}

/** `cwd` is the working directory Pulumi would run the program in: the checkout AppImage builds. */
export function recordRun(env: Record<string, string>, cwd = REPO_ROOT): RecordedRun {
  const result = spawnSync(
    process.execPath,
    ["--require", require.resolve("tsx/cjs"), join(REPO_ROOT, "tests/support/record-run.ts")],
    {
      cwd,
      encoding: "utf8",
      // The suite runs in working trees with uncommitted changes; the dirty-tree refusal has its own test.
      env: { ...process.env, SPECTRAL_ALLOW_DIRTY_IMAGE: "1", ...env },
    },
  );
  const parsed =
    result.status === 0
      ? JSON.parse(result.stdout)
      : {
          resources: [],
          outputs: {},
          onePasswordCalls: 0,
          onePasswordReferences: [],
          cloudflareRequests: [],
          issuedPasswords: [],
          githubKey: { publicKey: "", privateKey: "", keyId: "" },
        };
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ...parsed };
}

/** The first resource of `type` the run registered; fails with the run's stderr when there is none. */
export function registered(run: RecordedRun, type: string): RecordedResource {
  const found = run.resources.find((resource) => resource.type === type);
  if (!found) throw new Error(`no ${type} registered; stderr: ${run.stderr}`);
  return found;
}

let devSecretsFile: string | undefined;

/** A local secrets file holding `dev-<name>` for each of alpha's secrets and the deploy's own keys and URL. */
function alphaDevSecretsFile(): string {
  if (!devSecretsFile) {
    const lines = [
      ...[
        ...parseStackConfig(alphaConfig()).secrets.map(({ name }) => name),
        "DEPLOY_DIGEST_KEY",
        "DEPLOY_SEAL_KEY",
      ].map((name) => `${name}=dev-${name.toLowerCase()}-000000000000`),
      "DEPLOY_DATABASE_URL=postgres://deployer:dev-password@127.0.0.1:5432/spectral",
    ];
    devSecretsFile = join(mkdtempSync(join(tmpdir(), "dev-stack-")), "secrets.env");
    writeFileSync(devSecretsFile, `${lines.join("\n")}\n`);
  }
  return devSecretsFile;
}

/**
 * The env for an update as a dev stack: its config opts into a local secrets file, the only way an update
 * reads anything but 1Password. `overrides` are more config keys.
 */
export function devStackEnv(
  overrides: Record<string, string> = {},
  secretsFile = alphaDevSecretsFile(),
): Record<string, string> {
  return {
    RECORD_CONFIG_OVERRIDES: JSON.stringify({
      "spectral-infra:deploy.localSecretsFile": secretsFile,
      // Its database is on loopback: no CA to trust.
      "spectral-infra:database.caReference": "",
      ...overrides,
    }),
  };
}

/** Opens a value the run sealed for GitHub, as GitHub does (crypto_box_seal_open with the environment's key). */
export async function openSealed(run: RecordedRun, sealed: string): Promise<string> {
  const sodium = (await import("libsodium-wrappers")).default;
  await sodium.ready;
  const bytes = (base64: string) => sodium.from_base64(base64, sodium.base64_variants.ORIGINAL);
  const opened = sodium.crypto_box_seal_open(
    bytes(sealed),
    bytes(run.githubKey.publicKey),
    bytes(run.githubKey.privateKey),
  );
  return sodium.to_string(opened);
}
