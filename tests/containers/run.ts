/** Runs containers of the images the suite built, on host networking, and looks inside them. */
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { inject } from "vitest";
import { containerLogs, docker, type Engine, type ImageName, imageTag } from "../support/image-builds";
import { skipLoudly } from "../support/skip";
import type { ContainerSetup } from "./setup";

export const setup: ContainerSetup = inject("containers");
export const skipReason = "skipped" in setup ? setup.skipped : undefined;
const engine = (): Engine => {
  if ("skipped" in setup) throw new Error(setup.skipped);
  return { dockerHost: setup.dockerHost };
};

export const run = (...args: string[]) => docker(engine(), args);

/** A port nobody listens on right now: containers share the host's network. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface Container {
  id: string;
  exec(script: string): string;
  logs(): string;
  remove(): void;
}

const started: Container[] = [];

/**
 * Starts `image` detached with `env` (and `command` instead of its CMD). Test files remove what they
 * started with `afterEach(removeStarted)`.
 */
export function start(image: ImageName, env: Record<string, string>, command: string[] = []): Container {
  const environment = Object.entries(env).flatMap(([name, value]) => ["-e", `${name}=${value}`]);
  const id = run("run", "-d", "--network", "host", ...environment, imageTag(image), ...command);
  const container: Container = {
    id,
    exec: (script) => run("exec", id, "sh", "-c", script),
    logs: () => containerLogs(engine(), id),
    remove: () => void run("rm", "-f", id),
  };
  started.push(container);
  return container;
}

export function removeStarted(): void {
  for (const container of started.splice(0)) container.remove();
}

/** Polls `url` until it answers 200, or fails after `seconds`. */
export async function waitForHttp(url: string, seconds = 30): Promise<Response> {
  const deadline = Date.now() + seconds * 1000;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url);
      if (response.ok) return response;
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer within ${seconds} s: ${String(last)}`);
}

/** PID and command line of every process in the container, read from /proc (slim images have no ps). */
export function processes(container: Container): { pid: number; uid: number; command: string }[] {
  const script =
    'for p in /proc/[0-9]*; do [ "$p" = "/proc/$$" ] && continue; ' +
    // biome-ignore lint/suspicious/noTemplateCurlyInString: shell parameter expansion, not a template.
    'printf "%s %s " "${p#/proc/}" "$(awk \'/^Uid:/ {print $2}\' "$p/status" 2>/dev/null)"; ' +
    'tr "\\0" " " < "$p/cmdline" 2>/dev/null; echo; done';
  return container
    .exec(script)
    .split("\n")
    .map((line) => /^(\d+) (\d+) (.*)$/.exec(line.trim()))
    .filter((match): match is RegExpExecArray => match !== null && match[3] !== "")
    .map((match) => ({ pid: Number(match[1]), uid: Number(match[2]), command: match[3].trim() }))
    .filter((process) => !/\bsh -c\b|\btr \\0|\bawk\b|\bprintf\b/.test(process.command));
}

/** The environment a container was started with (`docker inspect`), as NAME=value lines. */
export function startEnvironment(id: string): string[] {
  return JSON.parse(run("inspect", "-f", "{{json .Config.Env}}", id)) as string[];
}

/**
 * Why the host cannot read a container process's /proc/<pid>/environ, or undefined when it can: the supervisor
 * and its children are non-dumpable, so only a reader with CAP_SYS_PTRACE (root on the host: CI, this
 * machine) may, and `docker exec --privileged` cannot get capabilities everywhere (gVisor refuses).
 */
export const hostCannotReadEnviron =
  process.getuid?.() === 0
    ? undefined
    : "reading a non-dumpable process's /proc/<pid>/environ needs root on the host";
// CI runs as root: there this part always runs.
if (hostCannotReadEnviron) skipLoudly("part of the container suite", hostCannotReadEnviron);

/** The start-up environment blocks of the container's PID 1 and of its children, read from the host. */
export function hostEnvironBlocks(id: string): { pid1: string; children: string[] } {
  const pid = run("inspect", "-f", "{{.State.Pid}}", id);
  const block = (of: string) => readFileSync(`/proc/${of}/environ`, "latin1").split("\0").join("\n");
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return { pid1: block(pid), children: children.map(block) };
}
