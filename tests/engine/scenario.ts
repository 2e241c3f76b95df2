/**
 * Everything the engine program runs against, for the engine suite and the engine benchmarks: a throwaway
 * PostgreSQL cluster (or the suite's), the Cloudflare API stand-in, and an engine sandbox. Counters read
 * what the stand-ins saw.
 */
import type { Stack } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { DURABLE_OBJECT_MIGRATIONS } from "../../components/container-worker";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "../support/fake-cloudflare";
import type { Upload } from "../support/fake-cloudflare-workers";
import { type TestDatabase, ThrowawayCluster } from "../support/postgres";
import { EngineSandbox } from "./harness";
import { type EngineInputs, engineProgram, imageReference } from "./program";

/** A Worker module the stand-in stores; the runtime suites load the real bundle. */
export const WORKER_CODE = "export default { fetch() { return new Response('engine'); } };\n";

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
    // The Worker's upload creates its Durable Object namespace, as at Cloudflare.
    const fake = await startFakeCloudflare();
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
      workerCode: WORKER_CODE,
      migrations: DURABLE_OBJECT_MIGRATIONS,
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

  /** The Worker script uploads the stand-in received, oldest first. */
  uploads(): Upload[] {
    return this.fake.requests
      .filter((request) => request.method === "PUT" && /\/workers\/scripts\/[^/]+$/.test(request.path))
      .map((request) => request.body as Upload);
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
