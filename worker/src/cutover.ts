/**
 * Which container serves an instance, and when to start the next one. Pure, so it is unit-tested in
 * Node; the Durable Objects in index.ts call it on every request and every cron tick.
 *
 * Blue/green per instance: `instance-<i>` is a router object that runs no container of its own. It keeps
 * a Routing record and forwards each request to one of two slot objects, `instance-<i>/blue` and
 * `instance-<i>/green`, each with its own container. A running container keeps the environment it started
 * with (platform facts; cloudflare/containers #233), so when the Worker carries a new generation:
 *   1. the idle slot starts a container for it, beside the serving one, and waits for a 200 /health;
 *   2. only then does the router record it as serving: new requests go there;
 *   3. the old slot drains (its in-flight requests finish) and its container stops (SIGTERM).
 * Instances cut over one after another (doneWith), so a deploy needs room for one extra container.
 * A start that fails (the container exits, /health never answers 200, the start timeout) is recorded
 * against its generation; the old slot keeps serving, and the same generation is tried again at most
 * once a minute. A new image that the application's rollout has not reached yet starts with the old
 * image: it serves (its environment is new), and is replaced the same way, at most once a minute, until
 * /health reports the image's commit. An env-only change never waits for a rollout.
 */

export type Slot = "blue" | "green";

/** What the Worker expects to be served: its SPECTRAL_GENERATION and SPECTRAL_GIT_SHA. */
export interface Wanted {
  generation: string;
  gitSha: string;
}

/** The slot that takes an instance's requests, and what its container was started for. */
export interface Serving extends Wanted {
  slot: Slot;
  /** When its container became healthy, ms since the epoch. */
  startedAt: number;
}

/** A generation whose container did not become healthy, and why. */
export interface FailedStart {
  generation: string;
  reason: string;
  at: number;
}

/** The router's record, kept in its storage so a reset object carries on where it was. */
export interface Routing {
  serving?: Serving;
  failed?: FailedStart;
  /** A slot whose container still has to be stopped (its drain had not finished). */
  draining?: Slot;
}

/** Serve from `serve` (if any slot can), and start `startIn` for the wanted generation (if needed). */
export interface RouteDecision {
  serve?: Slot;
  startIn?: Slot;
}

/**
 * Whether an instance is done with `generation`: it serves it with nothing left to drain, or its start
 * failed. Instance i starts a cutover only once instance i-1 is done with it, so a deploy runs one extra
 * container at a time and `max_instances` needs room for `instances + 1`.
 */
export function doneWith(routing: Routing, generation: string): boolean {
  const serves = routing.serving?.generation === generation && routing.draining === undefined;
  return serves || routing.failed?.generation === generation;
}

/** The instance that cuts over before this one, if any. */
export function previousInstance(instance: string): string | undefined {
  const index = Number(instance.slice("instance-".length));
  return Number.isInteger(index) && index > 0 ? `instance-${index - 1}` : undefined;
}

/** How long to wait before starting again: a failed generation, or an image not rolled out yet. */
export const RETRY_MS = 60_000;

export function otherSlot(slot: Slot | undefined): Slot {
  return slot === "blue" ? "green" : "blue";
}

export function decideRoute(wanted: Wanted, routing: Routing, now: number): RouteDecision {
  const { serving, failed } = routing;
  const recentlyFailed = failed?.generation === wanted.generation && now - failed.at < RETRY_MS;
  if (!serving) return recentlyFailed ? {} : { startIn: "blue" };
  const current = serving.generation === wanted.generation;
  const imageDue = serving.gitSha !== wanted.gitSha && now - serving.startedAt >= RETRY_MS;
  if (recentlyFailed || (current && !imageDue)) return { serve: serving.slot };
  return { serve: serving.slot, startIn: otherSlot(serving.slot) };
}

/** The record after a healthy start in `slot`: it serves; the slot that served before drains. */
export function afterStart(routing: Routing, slot: Slot, served: Wanted, now: number): Routing {
  return {
    serving: { slot, ...served, startedAt: now },
    ...(routing.serving && routing.serving.slot !== slot ? { draining: routing.serving.slot } : {}),
  };
}

/** The record after a failed start: whatever served still serves. */
export function afterFailedStart(routing: Routing, generation: string, reason: string, now: number): Routing {
  return { ...routing, failed: { generation, reason, at: now } };
}

/** What one instance reports to the deploy's verification (GET CUTOVER_STATUS_PATH). */
export interface InstanceStatus {
  instance: string;
  serving: Wanted | null;
  failed: Pick<FailedStart, "generation" | "reason"> | null;
}

/** The Worker's own path for the cutover status of every instance; the app never sees it. */
export const CUTOVER_STATUS_PATH = "/.well-known/spectral/cutover";

export function instanceStatus(instance: string, routing: Routing): InstanceStatus {
  const { serving, failed } = routing;
  return {
    instance,
    serving: serving ? { generation: serving.generation, gitSha: serving.gitSha } : null,
    failed: failed ? { generation: failed.generation, reason: failed.reason } : null,
  };
}

/** The fields of the app's /health the cutover reads; anything but a 200 with JSON is not ready. */
export interface Health {
  generation?: string | null;
  build?: { sha?: string } | null;
}

export function instanceNames(count: number): string[] {
  return Array.from({ length: count }, (_, index) => `instance-${index}`);
}

export function slotName(instance: string, slot: Slot): string {
  return `${instance}/${slot}`;
}

/** SPECTRAL_INSTANCES as a count: a whole number from 1, else 1. */
export function instanceCount(text: unknown): number {
  const count = Number(text);
  return Number.isInteger(count) && count >= 1 ? count : 1;
}

/** SPECTRAL_START_TIMEOUT_SECONDS in ms: a whole number of seconds from 1, else 90 s. */
export function startTimeoutMs(text: unknown): number {
  const seconds = Number(text);
  return (Number.isInteger(seconds) && seconds >= 1 ? seconds : 90) * 1000;
}

/** A request that cannot have changed anything, and has no body to send twice. */
export function isIdempotent(request: Request): boolean {
  return request.method === "GET" || request.method === "HEAD";
}

/**
 * A Durable Object reset by a code update fails the calls in flight with `retryable` set (docs:
 * durable-objects/best-practices/error-handling); a request that cannot have changed anything is sent once
 * more, so a deploy does not fail it.
 */
export async function retryReset(request: Request, call: () => Promise<Response>): Promise<Response> {
  try {
    return await call();
  } catch (error) {
    if (isIdempotent(request) && (error as { retryable?: boolean }).retryable === true) return call();
    throw error;
  }
}
