/**
 * `pnpm compose:<command>[:frontend]`: the production-like local run (ADR-049 D4) through Docker Compose.
 * `up` first checks what compose would otherwise report late or not at all (the env file, the host's
 * PostgreSQL, the published ports), and a failed `up` takes down what it started, so nothing is left
 * running half-way.
 *
 * Usage: tsx scripts/local-compose.ts <up|down|logs|build|config> [--frontend]
 */
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  compose,
  composeArgs,
  databaseDownMessage,
  ENV_FILE,
  hostDatabases,
  LOCAL_COMMANDS,
  type LocalCommand,
  LocalComposeError,
  missingEnvFileMessage,
  parseEnvFile,
  portTakenMessage,
  publishedPorts,
} from "../lib/local/compose";
import { portAnswers, portFree } from "../lib/local/ports";

const ROOT = join(__dirname, "..");

function docker(args: string[], capture: boolean): { status: number; stdout: string; stderr: string } {
  const result = spawnSync("docker", args, {
    cwd: ROOT,
    encoding: "utf8",
    stdio: capture ? "pipe" : "inherit",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw new LocalComposeError(`cannot run docker: ${result.error.message}`);
  return { status: result.status ?? 1, stdout: result.stdout ?? "", stderr: result.stderr ?? "" };
}

function composeOutput(frontend: boolean, args: string[]): string {
  const result = docker([...compose(frontend), ...args], true);
  if (result.status !== 0)
    throw new LocalComposeError(`docker compose ${args[0]} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

function requireCompose(): void {
  if (docker(["compose", "version"], true).status !== 0)
    throw new LocalComposeError(
      "`docker compose` is not available. Install Docker Compose v2 or later " +
        "(https://docs.docker.com/compose/install/); on our CI machines scripts/install-compose.sh builds it.",
    );
}

function runningServices(frontend: boolean): Set<string> {
  const output = composeOutput(frontend, ["ps", "--status", "running", "--format", "{{.Service}}"]);
  return new Set(output.split("\n").filter(Boolean));
}

/** Everything `up` needs that compose would otherwise report late, as one sentence each. */
async function checkBeforeUp(frontend: boolean): Promise<void> {
  if (!existsSync(join(ROOT, ENV_FILE))) throw new LocalComposeError(missingEnvFileMessage());
  for (const database of hostDatabases(parseEnvFile(readFileSync(join(ROOT, ENV_FILE), "utf8"))))
    if (!(await portAnswers(database.port))) throw new LocalComposeError(databaseDownMessage(database));
  const config = JSON.parse(composeOutput(frontend, ["config", "--format", "json"]));
  const running = runningServices(frontend);
  for (const [service, ports] of publishedPorts(config)) {
    if (running.has(service)) continue;
    for (const port of ports)
      if (!(await portFree(port))) throw new LocalComposeError(portTakenMessage(service, port));
  }
}

async function main(): Promise<number> {
  const [command, ...flags] = process.argv.slice(2);
  if (!LOCAL_COMMANDS.includes(command as LocalCommand) || flags.some((flag) => flag !== "--frontend"))
    throw new LocalComposeError(`usage: local-compose.ts <${LOCAL_COMMANDS.join("|")}> [--frontend]`);
  const frontend = flags.includes("--frontend");
  requireCompose();
  if (command === "up") await checkBeforeUp(frontend);
  const { status } = docker(composeArgs(command as LocalCommand, frontend), false);
  if (status !== 0 && command === "up") {
    // The logs go with the containers: show them before the down that leaves nothing running.
    docker([...compose(frontend), "logs", "--tail", "40"], false);
    docker(composeArgs("down", frontend), false);
    throw new LocalComposeError(
      "docker compose up failed; its output and the services' last log lines are above. What it started is removed again.",
    );
  }
  return status;
}

main().then(
  (status) => process.exit(status),
  (error: unknown) => {
    process.stderr.write(
      `compose: ${error instanceof LocalComposeError ? error.message : ((error as Error)?.stack ?? String(error))}\n`,
    );
    process.exit(1);
  },
);
