/**
 * The Worker in the real Workers runtime with the real app image: workerd runs the exact bundle with the
 * program's alpha bindings, and its container support drives the private Docker engine through
 * docker-proxy.ts (each container on the engine's bridge, with its own address). For the container suite,
 * `pnpm bench:worker` and `pnpm bench:cutover-load`. workerd names its containers
 * `workerd-<uniqueKey>-<object id>`; leftovers from an earlier run are removed before and after.
 *
 * Two ways to deploy: `deploy` restarts workerd with new bindings (requests in flight fail), `rollOut`
 * changes them in the running workerd (workerd-test-entry.js) and can swap the image new containers run,
 * as an application rollout does: requests in flight finish, as at Cloudflare.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DockerProxy, startDockerProxy } from "./docker-proxy";
import { DOCKER, docker, type Engine, imageTag } from "./image-builds";
import { type Binding, programUpload, type WorkerUpload, withText } from "./worker-upload";
import { startWorkerd, type WorkerdProcess } from "./workerd";

/** The app's port: the Durable Object's defaultPort, at each container's bridge address. */
export const APP_PORT = 8000;
/** The tag workerd's containers run: the app image, or whatever `rollOut` swapped in. */
export const SERVING_IMAGE = "spectral-test/app-serving:latest";

/** One of workerd's app containers, as the engine reports it. */
export interface AppContainer {
  name: string;
  running: boolean;
  generation: string;
  /** ms since the epoch; finishedAt is 0 while it runs. */
  startedAt: number;
  finishedAt: number;
  address: string;
}

export class WorkerContainerRuntime {
  private runtime: WorkerdProcess | undefined;
  bindings: Binding[];

  private constructor(
    private readonly engine: Engine,
    private readonly upload: WorkerUpload,
    private readonly proxy: DockerProxy,
    private readonly dir: string,
  ) {
    this.bindings = upload.bindings;
  }

  static async start(engine: Engine): Promise<WorkerContainerRuntime> {
    const upload = programUpload();
    const dir = mkdtempSync(join(tmpdir(), "spectral-worker-runtime-"));
    removeWorkerdContainers(engine);
    docker(engine, ["tag", imageTag("app"), SERVING_IMAGE]);
    const proxy = await startDockerProxy(
      engine.dockerHost.replace(/^unix:\/\//, ""),
      join(dir, "docker.sock"),
    );
    const runtime = new WorkerContainerRuntime(engine, upload, proxy, dir);
    await runtime.deploy();
    return runtime;
  }

  get url(): string {
    return this.runtime?.url ?? "";
  }

  output(): string {
    return this.runtime?.output() ?? "";
  }

  /** A deploy: workerd restarted with new binding texts; Durable Object storage and containers carry over. */
  async deploy(changes: Record<string, string> = {}): Promise<void> {
    await this.runtime?.stop();
    this.bindings = withText(this.bindings, changes);
    this.runtime = await startWorkerd(
      {
        code: this.upload.code,
        compatibilityDate: this.upload.compatibilityDate,
        compatibilityFlags: [],
        bindings: this.bindings,
        testEntry: true,
        containerEngine: { socketPath: this.proxy.socketPath, imageName: SERVING_IMAGE },
      },
      this.dir,
    );
  }

  /**
   * A deploy in the running workerd: new binding texts for the Worker and its objects, and (with `image`)
   * the image containers started from now on run. Nothing blocks the event loop: load may be running.
   */
  async rollOut(changes: Record<string, string>, image?: string): Promise<void> {
    if (image) await this.dockerAsync(["tag", image, SERVING_IMAGE]);
    this.bindings = withText(this.bindings, changes);
    const response = await fetch(`${this.url}/__test/deploy`, {
      method: "POST",
      body: JSON.stringify(changes),
    });
    if (response.status !== 200) throw new Error(`the deploy hook answered ${response.status}`);
  }

  /** Every app container workerd started in this run, running or exited (read without blocking). */
  async containers(): Promise<AppContainer[]> {
    // workerd may remove a container between the list and the inspection: list again then.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.inspectContainers();
      } catch (error) {
        if (attempt === 3 || !/No such object/.test(String(error))) throw error;
      }
    }
  }

  private async inspectContainers(): Promise<AppContainer[]> {
    const ids = (await this.dockerAsync(["ps", "-aq", "--filter", "name=workerd-"]))
      .split("\n")
      .filter(Boolean);
    if (ids.length === 0) return [];
    const inspected = JSON.parse(await this.dockerAsync(["inspect", ...ids])) as {
      Name: string;
      Config: { Env: string[] | null };
      State: { Running: boolean; StartedAt: string; FinishedAt: string };
      NetworkSettings: { Networks?: Record<string, { IPAddress?: string }> };
    }[];
    const time = (text: string) => (text.startsWith("0001") ? 0 : Date.parse(text));
    return inspected
      .filter((each) => !each.Name.endsWith("-proxy"))
      .map((each) => ({
        name: each.Name.replace(/^\//, ""),
        running: each.State.Running,
        generation:
          (each.Config.Env ?? []).find((e) => e.startsWith("SPECTRAL_GENERATION="))?.split("=")[1] ?? "",
        startedAt: time(each.State.StartedAt),
        finishedAt: each.State.Running ? 0 : time(each.State.FinishedAt),
        address: each.NetworkSettings.Networks?.bridge?.IPAddress ?? "",
      }));
  }

  private dockerAsync(args: string[]): Promise<string> {
    return new Promise((resolve, reject) =>
      execFile(
        DOCKER,
        args,
        { env: { ...process.env, DOCKER_HOST: this.engine.dockerHost }, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) =>
          error ? reject(new Error(`docker ${args[0]}: ${stderr}`)) : resolve(stdout.trim()),
      ),
    );
  }

  get(path: string, timeoutMs = 120_000): Promise<Response> {
    return fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  }

  /** The test's CONNECT sidecars (docker-proxy.ts), through which workerd reaches the app. */
  sidecars(): { port: number; tunnelsOpened: number }[] {
    return this.proxy.sidecars();
  }

  /** The running app containers workerd started (not the sidecars this side plays). */
  appContainers(): string[] {
    return docker(this.engine, ["ps", "--filter", "name=workerd-", "--format", "{{.Names}}"])
      .split("\n")
      .filter((name) => name && !name.endsWith("-proxy"));
  }

  /** Stops workerd and removes every container it started. */
  async stopAll(): Promise<void> {
    await this.runtime?.stop();
    this.runtime = undefined;
    removeWorkerdContainers(this.engine);
  }

  async close(): Promise<void> {
    await this.stopAll();
    await this.proxy.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Removes every container workerd started on `engine` (app containers answer on the host's port). */
export function removeWorkerdContainers(engine: Engine): void {
  const ids = docker(engine, ["ps", "-aq", "--filter", "name=workerd-"]).split("\n").filter(Boolean);
  if (ids.length > 0) docker(engine, ["rm", "-f", ...ids]);
}
