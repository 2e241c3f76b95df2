// The local compose flow (ADR-049 D4) run for real: Docker Compose and Buildx built from the Go module proxy
// (scripts/install-compose.sh), the suite's Docker engine, the committed Dockerfiles with their pinned bases
// resolved to the stand-ins, and a real PostgreSQL on the host at 54322, where `supabase start` listens. Each
// command is the package.json script an operator runs, in a checkout of this tree.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { get } from "node:http";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { portFree } from "../../lib/local/ports";
import { REPO_ROOT } from "../support/alpha";
import { Checkout } from "../support/checkout";
import { docker } from "../support/image-builds";
import { freeLoopbackPort, ThrowawayCluster } from "../support/postgres";
import { skipLoudly } from "../support/skip";
import { run, setup, skipReason } from "./run";

const PROJECT = "spectral-local";
const DATABASE_PORT = 54322;
/** Docker's default address pools for bridge networks, where compose creates its project network. */
const DOCKER_NETWORKS = ["172.16.0.0/12", "192.168.0.0/16"];
const LOCAL_ROLE = { name: "local_app", password: "local-app-password" };

/** Why the compose flow cannot run here, said aloud; under CI that fails the run instead. */
function composeMissing(): string | undefined {
  if (skipReason) return skipReason;
  const version = spawnSync("docker", ["compose", "version"], { encoding: "utf8" });
  if (version.status === 0) return undefined;
  return skipLoudly("local compose", "`docker compose` is not installed (run scripts/install-compose.sh)");
}
const missing = composeMissing();
const dockerHost = "dockerHost" in setup ? setup.dockerHost : "";

interface Result {
  status: number;
  output: string;
}

/** Runs `pnpm <script>` in the checkout, as an operator would. */
function pnpm(checkout: Checkout, script: string): Result {
  const result = spawnSync("pnpm", ["-s", script], {
    cwd: checkout.dir,
    encoding: "utf8",
    env: { ...process.env, DOCKER_HOST: dockerHost },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status ?? 1, output: `${result.stdout}${result.stderr}` };
}

function expectSuccess(result: Result): string {
  if (result.status !== 0) throw new Error(`failed (${result.status}):\n${result.output.slice(-4000)}`);
  return result.output;
}

/** The project's containers, networks and volumes that exist on the engine. */
function leftovers(): string[] {
  const label = `label=com.docker.compose.project=${PROJECT}`;
  return [
    ...run("ps", "--all", "--filter", label, "--format", "container {{.Names}}").split("\n"),
    ...run("network", "ls", "--filter", label, "--format", "network {{.Name}}").split("\n"),
    ...run("volume", "ls", "--filter", label, "--format", "volume {{.Name}}").split("\n"),
  ].filter(Boolean);
}

/** GET /health on a new connection: a kept-alive one may lead to a container compose has since replaced. */
async function health(port: number): Promise<Record<string, unknown>> {
  const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    get({ host: "127.0.0.1", port, path: "/health", agent: false }, (response) => {
      let body = "";
      response.on("data", (chunk) => {
        body += chunk;
      });
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    }).on("error", reject);
  });
  expect(status).toBe(200);
  return JSON.parse(body) as Record<string, unknown>;
}

/** `pnpm <script>` (a compose:logs script) until every service in `services` has printed a line; then it is stopped. */
async function followLogs(checkout: Checkout, script: string, services: string[]): Promise<string> {
  const child: ChildProcess = spawn("pnpm", ["-s", script], {
    cwd: checkout.dir,
    env: { ...process.env, DOCKER_HOST: dockerHost },
    detached: true,
  });
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  try {
    await expect
      .poll(() => services.every((service) => new RegExp(`^${service}-1 +\\|`, "m").test(output)), {
        timeout: 20_000,
      })
      .toBe(true);
    return output;
  } finally {
    process.kill(-(child.pid as number), "SIGTERM");
  }
}

/** Holds `port` on all addresses for the length of `body`, as another program would. */
async function holdingPort<T>(port: number, body: () => T): Promise<T> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(port, "0.0.0.0", resolve));
  try {
    return body();
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe.skipIf(missing)(
  "local compose (real Docker Compose and Buildx, suite engine, stand-in bases, real PostgreSQL on 54322)",
  () => {
    let checkout: Checkout;
    let cluster: ThrowawayCluster | undefined;
    const envFile = () => join(checkout.dir, "infra/local/.env");

    /** infra/local/.env from the example, with the test cluster's login and database port. */
    function writeEnv(databasePort: number): void {
      const url = `postgresql://${LOCAL_ROLE.name}:${LOCAL_ROLE.password}@host.docker.internal:${databasePort}/postgres`;
      const example = readFileSync(join(checkout.dir, "infra/local/.env.example"), "utf8");
      writeFileSync(
        envFile(),
        example
          .replace(/^SPECTRAL_GENERATION=.*$/m, "SPECTRAL_GENERATION=7")
          .replace(/^(API|WORKERS)_DATABASE_URL=.*$/gm, `$1_DATABASE_URL=${url}`),
      );
    }

    beforeAll(async () => {
      if (!(await portFree(DATABASE_PORT)))
        throw new Error(
          `port ${DATABASE_PORT} is taken (is \`supabase start\` running?); stop what holds it to run this suite`,
        );
      checkout = new Checkout();
      // version.json is generated (gitignored); the suite's setup stamped this tree's.
      copyFileSync(
        join(REPO_ROOT, "infra/docker/version.json"),
        join(checkout.dir, "infra/docker/version.json"),
      );
      const gateway = run("network", "inspect", "bridge", "--format", "{{(index .IPAM.Config 0).Gateway}}");
      const started = await ThrowawayCluster.start({
        port: DATABASE_PORT,
        bridge: { address: gateway, networks: DOCKER_NETWORKS },
      });
      if ("skipped" in started) throw new Error(started.skipped);
      cluster = started.cluster;
      const admin = new Client({ connectionString: started.database.adminUrl });
      await admin.connect();
      // md5, so that the probe below can log in without a driver; the role is this test's alone.
      await admin.query("set password_encryption = 'md5'");
      await admin.query(`create role ${LOCAL_ROLE.name} login password '${LOCAL_ROLE.password}'`);
      await admin.query(`grant usage on schema core to ${LOCAL_ROLE.name}`);
      await admin.query(`grant select on core.deployments to ${LOCAL_ROLE.name}`);
      await admin.end();
    }, 60_000);

    afterAll(() => {
      if (checkout) {
        pnpm(checkout, "compose:down:frontend");
        checkout.dispose();
      }
      cluster?.stop();
    });

    it("without infra/local/.env, compose:up says to copy .env.example and starts nothing", () => {
      rmSync(envFile(), { force: true });
      const result = pnpm(checkout, "compose:up");
      expect(result.status).toBe(1);
      expect(result.output.trim()).toBe(
        "compose: infra/local/.env is missing. Copy the example and fill it in: cp infra/local/.env.example infra/local/.env",
      );
      expect(leftovers()).toEqual([]);
    });

    it("with PostgreSQL down, compose:up names the env key and the port, and starts nothing", async () => {
      const nobody = await freeLoopbackPort();
      writeEnv(nobody);
      const result = pnpm(checkout, "compose:up");
      expect(result.status).toBe(1);
      expect(result.output).toContain(
        `compose: infra/local/.env: API_DATABASE_URL points at host.docker.internal:${nobody}, but nothing answers on port ${nobody} of this machine.`,
      );
      expect(result.output).not.toMatch(/\n\s+at /);
      expect(leftovers()).toEqual([]);
    });

    it("with port 8000 taken, compose:up names the port and the service, and starts nothing", async () => {
      writeEnv(DATABASE_PORT);
      const result = await holdingPort(8000, () => pnpm(checkout, "compose:up"));
      expect(result.status).toBe(1);
      expect(result.output).toContain(
        "compose: port 8000, which the api service publishes, is already in use on this machine.",
      );
      expect(leftovers()).toEqual([]);
    });

    it("a service that fails to start fails compose:up, which shows its log and removes everything it started", () => {
      writeEnv(DATABASE_PORT);
      writeFileSync(envFile(), `${readFileSync(envFile(), "utf8")}SPECTRAL_WORKERS_INTERVAL_SECONDS=soon\n`);
      const result = pnpm(checkout, "compose:up");
      expect(result.status).toBe(1);
      expect(result.output).toContain("container spectral-local-workers-1 exited (1)");
      expect(result.output).toContain("ValueError: could not convert string to float: 'soon'");
      expect(result.output).toContain(
        "compose: docker compose up failed; its output and the services' last log lines are above. What it started is removed again.",
      );
      expect(leftovers()).toEqual([]);
    }, 600_000);

    it("compose:up builds api and workers from the committed Dockerfiles and waits for both to be healthy; /health serves the image's version.json and the generation; both reach PostgreSQL on the host", async () => {
      writeEnv(DATABASE_PORT);
      expectSuccess(pnpm(checkout, "compose:up"));
      const answer = await health(8000);
      expect(answer.build).toEqual(
        JSON.parse(readFileSync(join(REPO_ROOT, "infra/docker/version.json"), "utf8")),
      );
      expect(answer.generation).toBe("7");
      const probe = readFileSync(join(__dirname, "fixtures/pg_probe.py"), "utf8");
      for (const [service, key] of [
        ["api", "API_DATABASE_URL"],
        ["workers", "WORKERS_DATABASE_URL"],
      ]) {
        const query = "select current_user, count(*) from core.deployments";
        const rows = docker(
          { dockerHost },
          ["exec", "-i", `${PROJECT}-${service}-1`, "python", "-", key, query],
          {
            input: probe,
          },
        );
        expect(JSON.parse(rows), service).toEqual([[LOCAL_ROLE.name, "0"]]);
      }
    }, 900_000);

    it("compose:logs shows both services' output", async () => {
      const output = await followLogs(checkout, "compose:logs", ["api", "workers"]);
      expect(output).toContain("workers: started (generation 7)");
      expect(output).toMatch(/^api-1 +\| .*Uvicorn running on http:\/\/0\.0\.0\.0:8000/m);
    });

    it("a rebuild after a source edit reuses the dependency layers and serves the edit", async () => {
      const source = join(checkout.dir, "reference-app/python/src/spectral_app/api.py");
      // A new value each run: BuildKit's cache outlives the test, and an edit it has seen would be CACHED.
      const edit = randomUUID();
      writeFileSync(
        source,
        readFileSync(source, "utf8").replace('"status": "ok"', `"status": "ok", "edit": "${edit}"`),
      );
      const output = expectSuccess(pnpm(checkout, "compose:up"));
      const step = (pattern: RegExp): string => {
        const line = output.split("\n").find((text) => pattern.test(text));
        if (!line) throw new Error(`no build step matches ${pattern}:\n${output.slice(-4000)}`);
        return line.split(" ")[0];
      };
      // BuildKit reports a step that api and workers share once, under either name.
      const dependencies = step(
        /^#\d+ \[(api|workers) builder \d+\/\d+\] RUN .*uv sync --locked --no-dev --no-install-project/,
      );
      const sources = step(/^#\d+ \[(api|workers) runtime \d+\/\d+\] COPY .*reference-app\/python\/src/);
      expect(output).toContain(`${dependencies} CACHED`);
      expect(output).not.toContain(`${sources} CACHED`);
      expect((await health(8000)).edit).toBe(edit);
    }, 600_000);

    it("compose:down leaves no container, network or volume behind", () => {
      expectSuccess(pnpm(checkout, "compose:down"));
      expect(leftovers()).toEqual([]);
    });

    it("compose:up:frontend adds dashboard and operations on their pnpm dev ports, compose:logs:frontend shows all four, and compose:down:frontend removes them", async () => {
      expectSuccess(pnpm(checkout, "compose:up:frontend"));
      expect(
        run("ps", "--filter", `label=com.docker.compose.project=${PROJECT}`, "--format", "{{.Names}}")
          .split("\n")
          .sort(),
      ).toEqual(["api", "dashboard", "operations", "workers"].map((service) => `${PROJECT}-${service}-1`));
      for (const [port, title] of [
        [3000, "Spectral dashboard"],
        [3001, "Spectral operations"],
      ] as const) {
        const page = await fetch(`http://127.0.0.1:${port}/`);
        expect(await page.text()).toContain(`<h1>${title}</h1>`);
      }
      expect((await health(8000)).status).toBe("ok");
      const logs = await followLogs(checkout, "compose:logs:frontend", [
        "api",
        "workers",
        "dashboard",
        "operations",
      ]);
      expect(logs).toMatch(/^dashboard-1 +\| dashboard: listening on 3000$/m);
      expectSuccess(pnpm(checkout, "compose:down:frontend"));
      expect(leftovers()).toEqual([]);
    }, 900_000);
  },
);
