/**
 * The real Workers runtime for tests: `workerd serve` (the npm package's binary) on a loopback port, with a
 * config rendered from what the program uploads: the exact bundle, and its bindings as WorkerScript's
 * inputs hold them. Durable Objects are SQLite-backed on disk, so their storage outlives a restart (a new
 * deployment), as at Cloudflare.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import type { ScriptBinding } from "../../components/worker-script-provider";
import { freeLoopbackPort } from "./postgres";

/** The runtime binary itself: node_modules/.bin/workerd is a Node wrapper, and killing it leaves workerd running. */
export const WORKERD: string = require("workerd").default;

export interface WorkerdWorker {
  /** The bundle the program uploads, as index.js. */
  code: string;
  compatibilityDate: string;
  compatibilityFlags: string[];
  /** WorkerScript's bindings, with secret values filled in. */
  bindings: (ScriptBinding & { text?: string })[];
  /** Extra text bindings and HTTP services (by address) for the test entry. */
  testText?: Record<string, string>;
  testServices?: Record<string, string>;
  /**
   * Run the bundle under tests/support/workerd-test-entry.js, which adds GET /__test/cron and, when a
   * CONTAINER_DOUBLE service is given, a container double; otherwise the bundle runs on its own.
   */
  testEntry: boolean;
  /** Docker API socket for real containers, and the image each container class runs. */
  containerEngine?: { socketPath: string; imageName: string };
}

const capnpString = (text: string) => JSON.stringify(text);

export function workerdConfig(worker: WorkerdWorker, port: number, dir: string): string {
  const modules = worker.testEntry
    ? [`(name = "test.js", esModule = embed "test.js")`, `(name = "index.js", esModule = embed "index.js")`]
    : [`(name = "index.js", esModule = embed "index.js")`];
  const bindings = [
    ...worker.bindings.map((binding) =>
      binding.type === "durable_object_namespace"
        ? `(name = ${capnpString(binding.name)}, durableObjectNamespace = ${capnpString(binding.className)})`
        : `(name = ${capnpString(binding.name)}, text = ${capnpString(binding.text ?? "")})`,
    ),
    ...Object.entries(worker.testText ?? {}).map(
      ([name, text]) => `(name = ${capnpString(name)}, text = ${capnpString(text)})`,
    ),
    ...Object.keys(worker.testServices ?? {}).map(
      (name) => `(name = ${capnpString(name)}, service = ${capnpString(`svc-${name}`)})`,
    ),
  ];
  const container = worker.containerEngine
    ? `, container = (imageName = ${capnpString(worker.containerEngine.imageName)})`
    : "";
  const namespaces = worker.bindings
    .filter((binding) => binding.type === "durable_object_namespace")
    .map(
      (binding) =>
        `(className = ${capnpString(binding.className)}, uniqueKey = ${capnpString(`spectral-${binding.className}`)}, enableSql = true${container})`,
    );
  const services = [
    `(name = "main", worker = .mainWorker)`,
    `(name = "do-disk", disk = (path = ${capnpString(join(dir, "do"))}, writable = true))`,
    ...Object.entries(worker.testServices ?? {}).map(
      ([name, address]) =>
        `(name = ${capnpString(`svc-${name}`)}, external = (address = ${capnpString(address)}, http = ()))`,
    ),
  ];
  const engine = worker.containerEngine
    ? `,\n  containerEngine = (localDocker = (socketPath = ${capnpString(`unix://${worker.containerEngine.socketPath}`)}, containerEgressInterceptorImage = "cloudflare/proxy-everything:latest"))`
    : "";
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(",\n    ")}
  ],
  sockets = [ (name = "http", address = "127.0.0.1:${port}", http = (), service = "main") ],
);

const mainWorker :Workerd.Worker = (
  modules = [ ${modules.join(", ")} ],
  compatibilityDate = ${capnpString(worker.compatibilityDate)},
  compatibilityFlags = [ ${worker.compatibilityFlags.map(capnpString).join(", ")} ],
  bindings = [
    ${bindings.join(",\n    ")}
  ],
  durableObjectNamespaces = [ ${namespaces.join(", ")} ],
  durableObjectStorage = (localDisk = "do-disk")${engine}
);
`;
}

export interface WorkerdProcess {
  url: string;
  /** Everything workerd printed. */
  output(): string;
  stop(): Promise<void>;
}

/** Starts workerd on a free port in `dir` (its Durable Object storage stays there across restarts). */
export async function startWorkerd(
  worker: WorkerdWorker,
  dir: string,
  fixedPort?: number,
): Promise<WorkerdProcess> {
  mkdirSync(join(dir, "do"), { recursive: true });
  writeFileSync(join(dir, "index.js"), worker.code);
  if (worker.testEntry) copyFileSync(join(__dirname, "workerd-test-entry.js"), join(dir, "test.js"));
  const port = fixedPort ?? (await freeLoopbackPort());
  writeFileSync(join(dir, "config.capnp"), workerdConfig(worker, port, dir));
  let output = "";
  const child: ChildProcess = spawn(
    WORKERD,
    ["serve", join(dir, "config.capnp"), "--experimental", "--verbose"],
    {
      cwd: dir,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`workerd exited (${child.exitCode}):\n${output}`);
    // A TCP connect, not a request: a request would reach the Worker and start a container.
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.end();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (listening) break;
    if (Date.now() > deadline) throw new Error(`workerd did not listen within 20 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    output: () => output,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
