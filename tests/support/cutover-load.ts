/**
 * A bounded load loop through a generation cutover, for the container suite and `pnpm bench:cutover-load`:
 * a few clients send GET /health to the Worker (workerd, over loopback) one after another, for a steady
 * phase, through a deploy and until the cutover is over, and a little after. Every request is recorded: how
 * long it took, whether it was answered 200, and which generation answered. The loop stops by itself: when
 * the cutover is over, or at its request or time bound (then it fails, saying so).
 *
 * Everything here is asynchronous: the Docker API proxy's tunnels run in this process, so a blocking call
 * would show up as latency.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { CUTOVER_STATUS_PATH } from "../../worker/src/cutover";
import { buildImage, type Engine, imageTag } from "./image-builds";
import type { AppContainer, WorkerContainerRuntime } from "./worker-container-runtime";

/** The commit a "new image" reports. */
export const NEW_SHA = "feedfacefeedfacefeedfacefeedfacefeedface";

/** Images built FROM the app image: a new commit, and three that never become healthy. */
export const APP_VARIANTS = {
  "new-commit": `RUN sed -i 's/"sha": *"[0-9a-f]*"/"sha": "${NEW_SHA}"/' /app/version.json`,
  "crash-at-start": `ENTRYPOINT ["/bin/sh", "-c", "echo 'spectral: refusing to start' >&2; exit 3"]`,
  "health-500": `RUN echo '{not json' > /app/version.json`,
  "never-listens": `ENTRYPOINT ["/bin/sleep", "infinity"]`,
};
export type AppVariant = keyof typeof APP_VARIANTS;

export const variantTag = (name: AppVariant) => `spectral-test/app-${name}:latest`;

/** Builds each variant of the app image (one layer on top of it: seconds). */
export function buildAppVariants(engine: Engine, names: AppVariant[]): void {
  const dir = mkdtempSync(join(tmpdir(), "spectral-variant-"));
  try {
    for (const name of names) {
      writeFileSync(join(dir, "Dockerfile"), `FROM ${imageTag("app")}\n${APP_VARIANTS[name]}\n`);
      buildImage(engine, join(dir, "Dockerfile"), dir, variantTag(name));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CutoverPlan {
  /** The deploy: new bindings (and perhaps a new image) in the running workerd. */
  deploy(): Promise<void>;
  /** Whether the cutover is over (checked every 250 ms): the new generation serves, the old one stopped. */
  finished(): Promise<boolean>;
}

export interface LoadLimits {
  clients: number;
  steadyMs: number;
  afterMs: number;
  maxRequests: number;
  maxMs: number;
}

export const DEFAULT_LIMITS: LoadLimits = {
  clients: 4,
  steadyMs: 3_000,
  afterMs: 1_000,
  maxRequests: 50_000,
  maxMs: 180_000,
};

interface Sample {
  phase: "steady" | "cutover" | "after";
  ms: number;
  ok: boolean;
  generation?: string;
  error?: string;
}

export interface CutoverLoad {
  requests: number;
  failed: number;
  /** The first few failures, for the assertion's message. */
  failures: string[];
  steadyP99Ms: number;
  cutoverP99Ms: number;
  maxMs: number;
  /** Requests answered by each generation. */
  answeredBy: Record<string, number>;
  /** When the deploy began and when the cutover was seen over, ms since the epoch. */
  deployedAt: number;
  finishedAt: number;
}

export function percentile(values: number[], fraction: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function loadThroughCutover(
  runtime: WorkerContainerRuntime,
  plan: CutoverPlan,
  limits: LoadLimits = DEFAULT_LIMITS,
): Promise<CutoverLoad> {
  const samples: Sample[] = [];
  let phase: Sample["phase"] = "steady";
  let stopped = false;
  const client = async () => {
    while (!stopped && samples.length < limits.maxRequests) {
      const started = performance.now();
      const at = phase;
      try {
        const response = await fetch(`${runtime.url}/health`, { signal: AbortSignal.timeout(10_000) });
        const body = (await response.json().catch(() => ({}))) as { generation?: string };
        const ms = performance.now() - started;
        samples.push({
          phase: at,
          ms,
          ok: response.status === 200,
          generation: body.generation,
          error: `HTTP ${response.status}`,
        });
      } catch (error) {
        samples.push({ phase: at, ms: performance.now() - started, ok: false, error: String(error) });
      }
    }
  };
  const began = Date.now();
  const clients = Array.from({ length: limits.clients }, client);
  const bound = () => samples.length >= limits.maxRequests || Date.now() - began > limits.maxMs;
  try {
    await sleep(limits.steadyMs);
    phase = "cutover";
    const deployedAt = Date.now();
    await plan.deploy();
    while (!(await plan.finished())) {
      if (bound())
        throw new Error(
          `the load loop reached its bound (${samples.length} requests, ${((Date.now() - began) / 1000).toFixed(0)} s) before the cutover was over`,
        );
      await sleep(250);
    }
    const finishedAt = Date.now();
    phase = "after";
    await sleep(limits.afterMs);
    stopped = true;
    await Promise.all(clients);
    const failures = samples.filter((sample) => !sample.ok);
    const answeredBy: Record<string, number> = {};
    for (const { generation } of samples)
      if (generation) answeredBy[generation] = (answeredBy[generation] ?? 0) + 1;
    const timesOf = (wanted: Sample["phase"]) => samples.filter((s) => s.phase === wanted).map((s) => s.ms);
    return {
      requests: samples.length,
      failed: failures.length,
      failures: failures
        .slice(0, 5)
        .map((sample) => `${sample.phase}: ${sample.error} after ${sample.ms.toFixed(0)} ms`),
      steadyP99Ms: percentile(timesOf("steady"), 0.99),
      cutoverP99Ms: percentile(timesOf("cutover"), 0.99),
      maxMs: Math.max(...samples.map((sample) => sample.ms)),
      answeredBy,
      deployedAt,
      finishedAt,
    };
  } finally {
    stopped = true;
    await Promise.all(clients);
  }
}

/**
 * How long containers of the old and the new generation ran side by side, in seconds: from the first
 * new-generation start to the last old-generation exit (or now, for one still running).
 */
export function overlapSeconds(
  containers: AppContainer[],
  oldGeneration: string,
  newGeneration: string,
): number {
  const newStarts = containers.filter((c) => c.generation === newGeneration).map((c) => c.startedAt);
  const oldEnds = containers
    .filter((c) => c.generation === oldGeneration)
    .map((c) => (c.running ? Date.now() : c.finishedAt));
  if (newStarts.length === 0 || oldEnds.length === 0) return 0;
  return Math.max(0, (Math.max(...oldEnds) - Math.min(...newStarts)) / 1000);
}

/** The most containers that ran at one moment: what max_instances must leave room for. */
export function peakRunning(containers: AppContainer[]): number {
  const events = containers.flatMap((c) => [
    { at: c.startedAt, change: 1 },
    { at: c.running ? Number.POSITIVE_INFINITY : c.finishedAt, change: -1 },
  ]);
  // An exit and a start at the same moment: count the exit first.
  events.sort((a, b) => a.at - b.at || a.change - b.change);
  let running = 0;
  let peak = 0;
  for (const { change } of events) {
    running += change;
    peak = Math.max(peak, running);
  }
  return peak;
}

/** A plan's `finished`: every instance serves `generation`, and no container of another one runs. */
export function servesOnly(runtime: WorkerContainerRuntime, generation: string, gitSha?: string) {
  return async (): Promise<boolean> => {
    const response = await fetch(`${runtime.url}${CUTOVER_STATUS_PATH}`);
    const { instances } = (await response.json()) as {
      instances: { serving: { generation: string; gitSha: string } | null }[];
    };
    const current = instances.every(
      ({ serving }) =>
        serving?.generation === generation && (gitSha === undefined || serving.gitSha === gitSha),
    );
    if (!current) return false;
    return (await runtime.containers()).every((each) => !each.running || each.generation === generation);
  };
}

/** Fires the cron and waits (at most 60 s) until every instance serves `generation`: a first start or a scale-up. */
export async function settle(runtime: WorkerContainerRuntime, generation: string): Promise<void> {
  const finished = servesOnly(runtime, generation);
  const deadline = Date.now() + 60_000;
  await runtime.get("/__test/cron");
  while (!(await finished())) {
    if (Date.now() > deadline)
      throw new Error(
        `instances did not settle on generation ${generation}:\n${runtime.output().slice(-3000)}`,
      );
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
