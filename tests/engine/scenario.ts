/**
 * Everything the engine program runs against, for the engine suite and the engine benchmarks: a throwaway
 * PostgreSQL cluster (or the suite's), the Cloudflare API stand-in seeded with the Worker's Durable Object
 * namespace, and an engine sandbox. Counters read what the stand-ins saw.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { CONTAINER_CLASS } from "../../components/container-worker";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "../support/fake-cloudflare";
import { type TestDatabase, ThrowawayCluster } from "../support/postgres";
import { EngineSandbox } from "./harness";
import { type EngineInputs, engineProgram, imageReference, NAMESPACE_ID, WORKER } from "./program";

/** Container secrets with distinctive values, so a leak is easy to find. */
export const SECRET_VALUES = {
  API_DATABASE_URL: "postgres://api:engine-api-secret@db/app",
  STRIPE_SECRET_KEY: "sk_engine_7731",
};

export class EngineScenario {
  private constructor(
    readonly sandbox: EngineSandbox,
    readonly fake: FakeCloudflare,
    readonly database: TestDatabase,
    private readonly admin: Client,
    private readonly cluster: ThrowawayCluster | undefined,
  ) {}

  /** Uses `database` when given (the suite's server), else starts a throwaway cluster. */
  static async start(database?: TestDatabase): Promise<EngineScenario> {
    let cluster: ThrowawayCluster | undefined;
    if (!database) {
      const started = await ThrowawayCluster.start();
      if ("skipped" in started) throw new Error(`the engine scenario needs PostgreSQL: ${started.skipped}`);
      ({ cluster, database } = started);
    }
    const fake = await startFakeCloudflare();
    fake.scripts.set(WORKER, {});
    fake.namespaces.push({
      id: NAMESPACE_ID,
      name: `${WORKER}_${CONTAINER_CLASS}`,
      script: WORKER,
      class: CONTAINER_CLASS,
      use_sqlite: true,
    });
    const admin = new Client({ connectionString: database.adminUrl });
    await admin.connect();
    return new EngineScenario(new EngineSandbox(), fake, database, admin, cluster);
  }

  /** The first deploy's inputs. */
  inputs(): EngineInputs {
    return {
      image: imageReference("1"),
      gitSha: "1111111",
      secrets: SECRET_VALUES,
      maxInstances: 2,
      instanceType: "standard-1",
      rolloutStepPercentages: [10, 100],
      databaseUrl: this.database.deployerUrl,
    };
  }

  /** The engine program's stack (`name`), with the Cloudflare credentials the providers read. */
  stack(inputs: EngineInputs, name = "engine"): Promise<Stack> {
    return this.sandbox.inlineStack(name, engineProgram(inputs), {
      CLOUDFLARE_API_TOKEN: FAKE_TOKEN,
      CLOUDFLARE_API_BASE_URL: this.fake.baseUrl,
    });
  }

  /** Rows of core.deployments for a stack. */
  async generations(stack = "engine"): Promise<number> {
    const result = await this.admin.query("select count(*) from core.deployments where stack = $1", [stack]);
    return Number(result.rows[0].count);
  }

  /** Requests that change something at Cloudflare. */
  writes(): number {
    return this.fake.requests.filter((request) => request.method !== "GET").length;
  }

  /** Worker script and version uploads the stand-in received. */
  workerUploads(): number {
    return this.fake.requests.filter(
      (request) => request.method !== "GET" && /\/workers\/scripts\/[^/]+(\/versions)?$/.test(request.path),
    ).length;
  }

  async close(): Promise<void> {
    await this.admin.end();
    await this.fake.close();
    this.sandbox.dispose();
    this.cluster?.stop();
  }
}
