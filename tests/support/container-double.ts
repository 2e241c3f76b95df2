/**
 * A container engine double for the Worker runtime suite: the containers behind workerd-test-entry.js's
 * `ctx.container` facade, kept in the test process so they outlive a workerd restart (as a real container
 * outlives a Worker deployment). Each "container" serves /health like the app does (200, its generation
 * and image sha from the environment it was started with) and answers any other path by naming it.
 * SIGTERM stops a container after a short grace, as the supervisor does.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";

export interface DoubleContainer {
  running: boolean;
  /** The environment of each start, oldest first. */
  starts: Record<string, string>[];
  signals: number[];
  /** What /health answers with while running. */
  healthStatus: number;
  /** Exit (code 3) right after each start, as an image that crashes at start does. */
  exitOnStart: boolean;
  /** The image's commit the container reports (the application's current image). */
  imageSha: string;
  stopped: (() => void)[];
}

export interface ContainerDouble {
  /** host:port, for workerd's external service. */
  address: string;
  containers: Map<string, DoubleContainer>;
  /** The image sha a new container reports. */
  imageSha: string;
  container(key: string): DoubleContainer;
  /** `{ key: { running } }` for workerd's TEST_CONTAINERS binding. */
  snapshot(): string;
  close(): Promise<void>;
}

const STOP_GRACE_MS = 50;

async function body(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

export async function startContainerDouble(): Promise<ContainerDouble> {
  const double: ContainerDouble = {
    address: "",
    containers: new Map(),
    imageSha: "image-sha-1",
    container(key) {
      let found = this.containers.get(key);
      if (!found) {
        found = {
          running: false,
          starts: [],
          signals: [],
          healthStatus: 200,
          exitOnStart: false,
          imageSha: this.imageSha,
          stopped: [],
        };
        this.containers.set(key, found);
      }
      return found;
    },
    snapshot() {
      return JSON.stringify(
        Object.fromEntries([...this.containers].map(([key, { running }]) => [key, { running }])),
      );
    },
    close: async () => {},
  };
  const stop = (container: DoubleContainer) => {
    container.running = false;
    for (const resolve of container.stopped.splice(0)) resolve();
  };
  const server = createServer(async (request, response) => {
    const [, action, rawKey, port, ...rest] = (request.url ?? "").split("?")[0].split("/");
    const container = double.container(decodeURIComponent(rawKey ?? ""));
    const send = (status: number, payload: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(payload));
    if (action === "start") {
      const { env } = (await body(request)) as { env: Record<string, string> };
      Object.assign(container, { running: true, imageSha: double.imageSha });
      container.starts.push(env);
      if (container.exitOnStart) setTimeout(() => stop(container), 0);
      return send(200, {});
    }
    if (action === "signal") {
      const { signal } = (await body(request)) as { signal: number };
      container.signals.push(signal);
      setTimeout(() => stop(container), signal === 9 ? 0 : STOP_GRACE_MS);
      return send(200, {});
    }
    if (action === "destroy") {
      stop(container);
      return send(200, {});
    }
    if (action === "monitor") {
      if (container.running) await new Promise<void>((resolve) => container.stopped.push(resolve));
      return send(200, {});
    }
    if (action === "proxy") {
      if (!container.running)
        return send(502, { error: `container ${rawKey} is not running on port ${port}` });
      const env = container.starts.at(-1) ?? {};
      const path = `/${rest.join("/")}`;
      if (path === "/health")
        return send(container.healthStatus, {
          status: container.healthStatus === 200 ? "ok" : "starting",
          generation: env.SPECTRAL_GENERATION ?? null,
          build: { sha: container.imageSha },
        });
      return send(200, {
        proxied: path,
        generation: env.SPECTRAL_GENERATION ?? null,
        instance: decodeURIComponent(rawKey),
      });
    }
    return send(404, { error: `no ${action}` });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  double.address = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  double.close = () =>
    new Promise((resolve) => {
      for (const container of double.containers.values()) stop(container);
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return double;
}
