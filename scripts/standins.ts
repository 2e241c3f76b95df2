/**
 * `pnpm standins`: the stand-ins the engine suite uses, for an operator who has the Pulumi CLI and the
 * provider plugins and wants to run the whole program against them: a throwaway PostgreSQL cluster with
 * the core.deployments migration, and the Cloudflare API stand-in (tests/support/fake-cloudflare.ts)
 * seeded with the alpha Worker's Durable Object namespace. It writes a local secrets file (test values
 * for every manifest secret, and the deploy role's URL) and prints the exports to use, then runs until
 * interrupted and removes everything it made.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONTAINER_CLASS } from "../components/container-worker";
import { BASE_URL_VARIABLE, TOKEN_VARIABLE } from "../lib/cloudflare/client";
import { parseStackConfig } from "../lib/config";
import { readStackFile } from "../lib/plan/stack-file";
import {
  DEPLOY_DATABASE_URL,
  DEPLOY_DIGEST_KEY,
  DEPLOY_SEAL_KEY,
  LOCAL_SECRETS_FILE_KEY,
} from "../lib/secrets/resolve";
import { FAKE_TOKEN, startFakeCloudflare } from "../tests/support/fake-cloudflare";
import { ThrowawayCluster } from "../tests/support/postgres";

const ROOT = join(__dirname, "..");

async function main(): Promise<void> {
  const config = parseStackConfig(readStackFile(ROOT, "alpha").config);
  const started = await ThrowawayCluster.start();
  if ("skipped" in started) throw new Error(started.skipped);
  const cloudflare = await startFakeCloudflare();
  const worker = config["cloudflare.workerName"];
  cloudflare.scripts.set(worker, {});
  cloudflare.namespaces.push({
    id: `standin-namespace-${worker}`,
    name: `${worker}_${CONTAINER_CLASS}`,
    script: worker,
    class: CONTAINER_CLASS,
    use_sqlite: true,
  });
  const dir = mkdtempSync(join(tmpdir(), "spectral-standins-"));
  const secretsFile = join(dir, "secrets.env");
  const lines = config.secrets.map((entry) => `${entry.name}="standin-${entry.name.toLowerCase()}"`);
  writeFileSync(
    secretsFile,
    [
      `${DEPLOY_DATABASE_URL}=${started.database.deployerUrl}`,
      `${DEPLOY_DIGEST_KEY}=${randomBytes(32).toString("hex")}`,
      `${DEPLOY_SEAL_KEY}=${randomBytes(32).toString("hex")}`,
      ...lines,
      "",
    ].join("\n"),
  );
  const stop = () => {
    // The secrets file first: test values on disk are what must not outlive the stand-ins, even if
    // stopping the cluster fails or this process is killed while it waits.
    rmSync(dir, { recursive: true, force: true });
    try {
      started.cluster.stop();
    } finally {
      cloudflare.close().finally(() => process.exit(0));
    }
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  console.log(
    [
      "# Stand-ins running; Ctrl-C stops them. In another shell:",
      `export ${TOKEN_VARIABLE}=${FAKE_TOKEN}`,
      `export ${BASE_URL_VARIABLE}=${cloudflare.baseUrl}   # the program's own providers`,
      `export CLOUDFLARE_BASE_URL=${cloudflare.baseUrl}        # the bridged cloudflare provider`,
      `# and on the dev stack (never alpha): pulumi config set ${LOCAL_SECRETS_FILE_KEY} ${secretsFile} --stack standins`,
      '# its database is on loopback, so no CA: pulumi config set database.caReference "" --stack standins',
      "export SPECTRAL_ALLOW_DIRTY_IMAGE=1",
      `# core.deployments: psql ${started.database.adminUrl}`,
    ].join("\n"),
  );
}

main().catch((error: unknown) => {
  console.error(`standins: ${(error as Error).message}`);
  process.exit(1);
});
