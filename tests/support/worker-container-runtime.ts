/**
 * The Worker in the real Workers runtime with the real app image: workerd runs the exact bundle with the
 * program's alpha bindings, and its container support drives the private Docker engine through
 * docker-proxy.ts. For the container suite and `pnpm bench:worker`. workerd names its containers
 * `workerd-<uniqueKey>-<object id>`; leftovers from an earlier run would answer on the host's port, so they
 * are removed before and after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DockerProxy, startDockerProxy } from "./docker-proxy";
import { docker, type Engine, imageTag } from "./image-builds";
import { type Binding, programUpload, type WorkerUpload, withText } from "./worker-upload";
import { startWorkerd, type WorkerdProcess } from "./workerd";

/** The app's port: the Durable Object's defaultPort, on the host network. */
export const APP_PORT = 8000;

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
        containerEngine: { socketPath: this.proxy.socketPath, imageName: imageTag("app") },
      },
      this.dir,
    );
  }

  get(path: string, timeoutMs = 120_000): Promise<Response> {
    return fetch(`${this.url}${path}`, { signal: AbortSignal.timeout(timeoutMs) });
  }

  /** The test's CONNECT sidecars (docker-proxy.ts), through which workerd reaches the app. */
  sidecars(): { port: number; tunnelsOpened: number }[] {
    return this.proxy.sidecars();
  }

  /** The app containers workerd started (not the sidecars this side plays). */
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
