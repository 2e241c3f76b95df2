/**
 * `pnpm bench:generation`: cost of allocating a deployment generation through the provider's create path
 * (a fresh connection each time, as `pulumi up` does) against a bare `pg` client doing the same connect +
 * INSERT ... RETURNING + disconnect, in the same run, plus 100 concurrent allocations. Uses a throwaway
 * PostgreSQL cluster (or DATABASE_URL, a superuser URL). Goals: ratio <= 1.2 and distinct = 100.
 * Prints `generation: p50_ms=<a> p99_ms=<b> raw_p50_ms=<c> ratio=<a/c> concurrent=100 distinct=<n>`.
 */
import { Client } from "pg";
import {
  type DeploymentGenerationInputs,
  type DeploymentGenerationOutputs,
  deploymentGenerationProvider,
} from "../components/deployment-generation-provider";
import { externalDatabase, type TestDatabase, ThrowawayCluster } from "../tests/support/postgres";
import { benchSize } from "./bench-support";

const ALLOCATIONS = benchSize(200, 10);
const CONCURRENT = benchSize(100, 10);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await work();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

async function main(): Promise<void> {
  const started = process.env.DATABASE_URL ? undefined : await ThrowawayCluster.start();
  if (started && "skipped" in started)
    throw new Error(`bench:generation needs PostgreSQL: ${started.skipped}`);
  const database: TestDatabase = started
    ? started.database
    : await externalDatabase(process.env.DATABASE_URL ?? "");
  try {
    const inputs: DeploymentGenerationInputs = {
      stack: "bench",
      service: "app",
      imageDigest: `sha256:${"a".repeat(64)}`,
      gitSha: "abcdef0",
      fingerprint: "f".repeat(64),
      databaseUrl: database.deployerUrl,
    };
    // Called on the provider, as the engine calls it: create reaches its helpers through `this`.
    const viaProvider = async () =>
      (await deploymentGenerationProvider.create(inputs)).outs as DeploymentGenerationOutputs;
    const raw = async () => {
      const client = new Client({ connectionString: database.deployerUrl });
      await client.connect();
      await client.query(
        `insert into core.deployments (stack, service, image_digest, git_sha, fingerprint, deployed_by)
         values ($1, $2, $3, $4, $5, $6) returning generation`,
        [inputs.stack, inputs.service, inputs.imageDigest, inputs.gitSha, inputs.fingerprint, "bench"],
      );
      await client.end();
    };
    for (let i = 0; i < 10; i++) await Promise.all([viaProvider(), raw()]); // warm up both paths
    const providerMs: number[] = [];
    const rawMs: number[] = [];
    for (let i = 0; i < ALLOCATIONS; i++) {
      providerMs.push(await timed(viaProvider));
      rawMs.push(await timed(raw));
    }
    const concurrent = await Promise.all(Array.from({ length: CONCURRENT }, viaProvider));
    const distinct = new Set(concurrent.map((created) => created.generation)).size;
    const p50 = percentile(providerMs, 50);
    const rawP50 = percentile(rawMs, 50);
    console.log(
      `generation: p50_ms=${p50.toFixed(2)} p99_ms=${percentile(providerMs, 99).toFixed(2)} raw_p50_ms=${rawP50.toFixed(2)} ratio=${(p50 / rawP50).toFixed(2)} concurrent=${CONCURRENT} distinct=${distinct}`,
    );
  } finally {
    if (started) started.cluster.stop();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:generation: ${(error as Error).message}`);
  process.exit(1);
});
