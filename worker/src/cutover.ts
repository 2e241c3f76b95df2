/**
 * When a Durable Object must (re)start its container. Pure, so it is unit-tested in Node; the class in
 * index.ts calls it on every request and every cron tick.
 *
 * A running container keeps the environment it started with, and an application rollout is no promise
 * that it restarts (platform facts; cloudflare/containers #233). So each object records what its running
 * container was started for, and compares it with what the Worker now carries:
 *   - not running                         -> start it (with the Worker's current environment);
 *   - started for another generation      -> restart it at once: a new generation is a new environment
 *                                            (a rotated secret, a new image, new settings);
 *   - serving another image than expected -> the application's rollout has not reached this instance
 *                                            yet: restart it, at most once a minute, until it serves the
 *                                            new image. An env-only change never waits for a rollout.
 */

/** What a container was started for, or what the Worker expects. */
export interface StartedFor {
  generation: string;
  /** The image's commit: what /health reported after the start, or what the Worker expects. */
  gitSha: string;
  /** When the container was (re)started, ms since the epoch. */
  startedAt?: number;
}

export type CutoverAction = "serve" | "start" | "restart";

/** How long to wait between restarts that hope for a rolled-out image. */
export const IMAGE_RETRY_MS = 60_000;

export function cutoverAction(
  wanted: StartedFor,
  running: boolean,
  startedFor: StartedFor | undefined,
  now: number,
): CutoverAction {
  if (!running) return "start";
  if (startedFor === undefined || startedFor.generation !== wanted.generation) return "restart";
  if (startedFor.gitSha !== wanted.gitSha && now - (startedFor.startedAt ?? 0) >= IMAGE_RETRY_MS)
    return "restart";
  return "serve";
}

/** The fields of the app's /health the cutover reads; anything but a 200 with JSON is not ready. */
export interface Health {
  generation?: string | null;
  build?: { sha?: string } | null;
}

export function instanceNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `instance-${index}`);
}

/** SPECTRAL_INSTANCES as a count: a whole number from 1, else 1. */
export function instanceCount(text: unknown): number {
  const count = Number(text);
  return Number.isInteger(count) && count >= 1 ? count : 1;
}
