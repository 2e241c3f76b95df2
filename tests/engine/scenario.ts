/**
 * Everything the engine program runs against, for the engine suite and the engine benchmarks: a throwaway
 * PostgreSQL cluster (or the suite's), the Cloudflare API and registry stand-ins, and an engine sandbox.
 * The providers reach the Cloudflare API, the registry and the Worker's /health through fault proxies
 * (tests/support/fault-proxy.ts), which pass everything through until a test injects a fault. Counters read
 * what the stand-ins saw.
 */

import { join } from "node:path";
import type { Stack } from "@pulumi/pulumi/automation";
import { Client } from "pg";
import { type ContainerDouble, startContainerDouble } from "../support/container-double";
import { type DockerProxy, startDockerProxy } from "../support/docker-proxy";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "../support/fake-cloudflare";
import type { Upload } from "../support/fake-cloudflare-workers";
import { type FakeRegistry, startFakeRegistry } from "../support/fake-registry";
import { type FaultProxy, startFaultProxy } from "../support/fault-proxy";
import { type Engine, imageTag } from "../support/image-builds";
import { freeLoopbackPort, type TestDatabase, ThrowawayCluster } from "../support/postgres";
import { removeWorkerdContainers } from "../support/worker-container-runtime";
import { startWorkerd, type WorkerdProcess } from "../support/workerd";
import { EngineSandbox } from "./harness";
import { ACCOUNT, type EngineInputs, engineProgram, gitShaOf, imageReference, REPOSITORY } from "./program";

/** Container secrets with distinctive values, so a leak is easy to find. */
export const SECRET_VALUES = {
  API_DATABASE_URL: "postgres://api:engine-api-secret@db/app",
  STRIPE_SECRET_KEY: "sk_engine_7731",
};

export class EngineScenario {
  /** The Worker as Cloudflare would run it: workerd, redeployed on every script upload the stand-in takes. */
  private runtime: WorkerdProcess | undefined;
  private deploying: Promise<void> = Promise.resolve();
  /** A deferred code update still waiting (see redeploy); close() ends the wait. */
  private deferred: { timer: NodeJS.Timeout; end: () => void } | undefined;
  private closed = false;
  /** The real container path, when the scenario runs the app image. */
  private engine: Engine | undefined;
  private proxy: DockerProxy | undefined;

  private constructor(
    readonly sandbox: EngineSandbox,
    readonly fake: FakeCloudflare,
    readonly database: TestDatabase,
    readonly double: ContainerDouble,
    readonly registry: FakeRegistry,
    readonly workerdPort: number,
    private readonly admin: Client,
    private readonly cluster: ThrowawayCluster | undefined,
    /** In front of the Cloudflare API stand-in, the registry stand-in and workerd. */
    readonly faults: { cloudflare: FaultProxy; registry: FaultProxy; health: FaultProxy },
  ) {}

  /**
   * Uses `database` when given (the suite's server), else starts a throwaway cluster. With `engine`, the
   * Worker's containers are the real app image on that Docker engine (through docker-proxy.ts); otherwise
   * a container double.
   */
  static async start(database?: TestDatabase, engine?: Engine): Promise<EngineScenario> {
    let cluster: ThrowawayCluster | undefined;
    if (!database) {
      const started = await ThrowawayCluster.start();
      if ("skipped" in started) throw new Error(`the engine scenario needs PostgreSQL: ${started.skipped}`);
      ({ cluster, database } = started);
    }
    // The Worker's upload creates its Durable Object namespace, as at Cloudflare.
    const fake = await startFakeCloudflare();
    for (const digit of "123") fake.registryImages.add(imageReference(digit));
    const admin = new Client({ connectionString: database.adminUrl });
    await admin.connect();
    const double = await startContainerDouble();
    // The registry holds the three test images (tagged with their commits) and an older one.
    const registry = await startFakeRegistry(() => fake.issuedPasswords);
    registry.repositories.set(`${ACCOUNT}/${REPOSITORY}`, [
      "0000000",
      ...["1", "2", "3"].map((d) => d.repeat(7)),
    ]);
    const workerdPort = await freeLoopbackPort();
    const scenario = new EngineScenario(
      new EngineSandbox(),
      fake,
      database,
      double,
      registry,
      workerdPort,
      admin,
      cluster,
      {
        cloudflare: await startFaultProxy(new URL(fake.baseUrl).origin),
        registry: await startFaultProxy(registry.url),
        health: await startFaultProxy(`http://127.0.0.1:${workerdPort}`),
      },
    );
    if (engine) {
      removeWorkerdContainers(engine);
      scenario.engine = engine;
      scenario.proxy = await startDockerProxy(
        engine.dockerHost.replace(/^unix:\/\//, ""),
        join(scenario.sandbox.dir, "docker.sock"),
      );
    }
    fake.onScriptUpload = (_name, upload) => scenario.redeploy(upload);
    // The application serving an image means new containers run it (the double reports its commit).
    fake.onImageLive = (image) => {
      double.imageSha = gitShaOf(image);
    };
    return scenario;
  }

  /**
   * Restarts workerd with an uploaded script: its module and bindings, Durable Object storage kept. As at
   * Cloudflare, a running Durable Object takes the new code only as the upload's code_update_strategy says:
   * at once for `immediate`, else after max_delay, 300 s when none is sent (platform facts, "Durable Objects
   * defer code updates"); the wake cron keeps ours active, so it waits the whole delay. The first upload
   * finds nothing running and starts at once.
   */
  private redeploy(upload: Upload): void {
    // A newer upload supersedes a deferred one: the objects go on to the latest code.
    this.endDeferral();
    const strategy = upload.metadata.code_update_strategy as
      | { mode?: string; max_delay?: number }
      | undefined;
    // A Durable Object that is not running starts on the latest code; only a running one defers.
    const deferMs = !this.runtime || strategy?.mode === "immediate" ? 0 : (strategy?.max_delay ?? 300) * 1000;
    const bindings = (upload.metadata.bindings as Record<string, string>[]).map((binding) =>
      binding.type === "durable_object_namespace"
        ? { type: "durable_object_namespace" as const, name: binding.name, className: binding.class_name }
        : { type: "plain_text" as const, name: binding.name, text: binding.text },
    );
    const code = upload.parts.get(upload.metadata.main_module as string) ?? "";
    // A Worker that failed to start must not stop the next upload from being deployed.
    this.deploying = this.deploying
      .catch(() => undefined)
      .then(async () => {
        await new Promise<void>((end) => {
          this.deferred = { timer: setTimeout(end, deferMs), end };
        });
        if (this.closed) return;
        await this.runtime?.stop();
        this.runtime = await startWorkerd(
          {
            code,
            compatibilityDate: upload.metadata.compatibility_date as string,
            compatibilityFlags: (upload.metadata.compatibility_flags as string[] | undefined) ?? [],
            bindings,
            testEntry: true,
            ...(this.proxy
              ? { containerEngine: { socketPath: this.proxy.socketPath, imageName: imageTag("app") } }
              : {
                  testText: { TEST_CONTAINERS: this.double.snapshot() },
                  testServices: { CONTAINER_DOUBLE: this.double.address },
                }),
          },
          this.sandbox.dir,
          this.workerdPort,
        );
      });
  }

  /** Where the Worker answers, as the deploy verification reaches it (through the /health fault proxy). */
  get url(): string {
    return this.faults.health.url;
  }

  /** The first deploy's inputs. */
  inputs(): EngineInputs {
    const image = imageReference("1");
    return {
      image,
      gitSha: gitShaOf(image),
      secrets: SECRET_VALUES,
      maxInstances: 2,
      instanceType: "standard-1",
      rolloutStepPercentages: [10, 100],
      databaseUrl: this.database.deployerUrl,
      url: this.url,
      verifyTimeoutSeconds: 60,
    };
  }

  /** The engine program's stack (`name`), with the Cloudflare credentials the providers read. */
  stack(inputs: EngineInputs, name = "engine"): Promise<Stack> {
    return this.sandbox.inlineStack(name, engineProgram(inputs), this.providerEnv());
  }

  /** What the providers read from the environment: the stand-ins' addresses and the test token. */
  providerEnv(): Record<string, string> {
    return {
      CLOUDFLARE_API_TOKEN: FAKE_TOKEN,
      CLOUDFLARE_API_BASE_URL: `${this.faults.cloudflare.url}/client/v4`,
      SPECTRAL_ROLLOUT_POLL_MS: "50",
      SPECTRAL_VERIFY_POLL_MS: "100",
      SPECTRAL_REGISTRY_URL: this.faults.registry.url,
    };
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

  private endDeferral(): void {
    if (!this.deferred) return;
    clearTimeout(this.deferred.timer);
    this.deferred.end();
    this.deferred = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.endDeferral();
    for (const proxy of Object.values(this.faults)) await proxy.close();
    await this.deploying.catch(() => undefined);
    await this.runtime?.stop();
    if (this.engine) removeWorkerdContainers(this.engine);
    await this.proxy?.close();
    await this.double.close();
    await this.registry.close();
    await this.admin.end();
    await this.fake.close();
    this.sandbox.dispose();
    this.cluster?.stop();
  }
}
