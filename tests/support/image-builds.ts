/**
 * Real image builds on this machine (no registry reachable): Debian's Docker engine on a private socket,
 * local stand-ins for the digest-pinned bases (scripts/containers/standins.sh), and each Dockerfile built
 * from a temporary copy whose FROM lines name the stand-ins. The committed Dockerfiles never change.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DOCKERFILE_DIR } from "./dockerfile-rules";

/** Debian's client, by full path: the machine's newer client on PATH insists on buildx. */
export const DOCKER = "/usr/bin/docker";
export const IMAGES = ["app", "api", "workers", "dashboard", "operations"] as const;
export type ImageName = (typeof IMAGES)[number];
const PINNED_FROM = /^(FROM\s+--platform=\S+\s+)(\S+?)@sha256:[0-9a-f]{64}/gm;

export interface Engine {
  dockerHost: string;
}

export class ContainerSuiteUnavailable extends Error {}

/** Starts (or reuses) the private engine; throws ContainerSuiteUnavailable with the reason when it cannot. */
export function startEngine(repoRoot: string, env: Record<string, string> = {}): Engine {
  const result = spawnSync("bash", [join(repoRoot, "scripts/containers/engine.sh")], {
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  if (result.status !== 0) throw new ContainerSuiteUnavailable(result.stderr.trim() || "engine.sh failed");
  return { dockerHost: result.stdout.trim() };
}

export function docker(engine: Engine, args: string[], options: { input?: string } = {}): string {
  return execFileSync(DOCKER, args, {
    encoding: "utf8",
    env: { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_BUILDKIT: "1" },
    input: options.input,
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["pipe", "pipe", "pipe"],
  }).trim();
}

/** A container's log: its stdout and stderr, as `docker logs` replays them. */
export function containerLogs(engine: Engine, id: string): string {
  const result = spawnSync(DOCKER, ["logs", id], {
    encoding: "utf8",
    env: { ...process.env, DOCKER_HOST: engine.dockerHost },
  });
  return `${result.stdout}${result.stderr}`;
}

/** The uv version the Dockerfiles pin, which names its stand-in. */
export function pinnedUvVersion(repoRoot: string): string {
  const match = /ghcr\.io\/astral-sh\/uv:([0-9.]+)@/.exec(
    readFileSync(join(repoRoot, DOCKERFILE_DIR, "app.Dockerfile"), "utf8"),
  );
  if (!match) throw new Error("app.Dockerfile pins no uv version");
  return match[1];
}

/** Builds or reuses the stand-ins; returns official image:tag -> stand-in tag. */
export function buildStandins(engine: Engine, repoRoot: string): Map<string, string> {
  const output = execFileSync(
    "bash",
    [join(repoRoot, "scripts/containers/standins.sh"), pinnedUvVersion(repoRoot)],
    {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: engine.dockerHost },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  return new Map(
    output
      .trim()
      .split("\n")
      .map((line) => line.split(" ") as [string, string]),
  );
}

/**
 * Records each digest-pinned base as a name of its stand-in in the engine (scripts/containers/pin-bases.sh),
 * so that the committed Dockerfiles build unchanged, as the local compose flow builds them. Restarts the
 * engine when something was missing, so it runs before any container starts.
 */
export function pinBases(engine: Engine, repoRoot: string, standins: ReadonlyMap<string, string>): void {
  execFileSync("bash", [join(repoRoot, "scripts/containers/pin-bases.sh")], {
    encoding: "utf8",
    env: { ...process.env, DOCKER_HOST: engine.dockerHost },
    input: [...standins].map(([official, standin]) => `${official} ${standin}\n`).join(""),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** The Dockerfile with every digest-pinned base swapped for its stand-in; a base without one is an error. */
export function withStandins(dockerfile: string, standins: ReadonlyMap<string, string>): string {
  return dockerfile.replace(PINNED_FROM, (_line, from: string, image: string) => {
    const standin = standins.get(image);
    if (!standin) throw new Error(`no stand-in for base ${image}`);
    return `${from}${standin}`;
  });
}

/** Writes the stand-in copy of infra/docker/<name>.Dockerfile (and its own ignore file) to a temp dir. */
export function standinDockerfile(
  repoRoot: string,
  name: ImageName,
  standins: ReadonlyMap<string, string>,
): string {
  const directory = mkdtempSync(join(tmpdir(), "standin-dockerfile-"));
  const source = join(repoRoot, DOCKERFILE_DIR, `${name}.Dockerfile`);
  const copy = join(directory, `${name}.Dockerfile`);
  writeFileSync(copy, withStandins(readFileSync(source, "utf8"), standins));
  if (existsSync(`${source}.dockerignore`)) copyFileSync(`${source}.dockerignore`, `${copy}.dockerignore`);
  return copy;
}

export function imageTag(name: ImageName): string {
  return `spectral-test/${name}:latest`;
}

/** Builds one image from `context` (the repository root, or a copy of it) with host networking. */
export function buildImage(engine: Engine, dockerfile: string, context: string, tag: string): void {
  const result = spawnSync(
    DOCKER,
    ["build", "--network", "host", "--platform", "linux/amd64", "-f", dockerfile, "-t", tag, context],
    {
      encoding: "utf8",
      env: { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_BUILDKIT: "1" },
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  if (result.status !== 0) throw new Error(`docker build of ${tag} failed:\n${result.stderr.slice(-4000)}`);
}

/** The app image, built as the container suite builds it (cached bases, cached layers), for the benchmarks. */
export function buildAppImage(engine: Engine, repoRoot: string): void {
  execFileSync("bash", [join(repoRoot, "infra/docker/build-version.sh")], { cwd: repoRoot });
  const dockerfile = standinDockerfile(repoRoot, "app", buildStandins(engine, repoRoot));
  buildImage(engine, dockerfile, repoRoot, imageTag("app"));
  rmSync(dirname(dockerfile), { recursive: true, force: true });
}
