/**
 * The Spectral Worker: fronts the app container (Cloudflare Containers) and forwards its own secret
 * bindings into the container's environment (ADR-049 D6, the secret hop). Bundled by esbuild during
 * `pulumi up` (lib/worker/bundle.ts); settings arrive as bindings, so the bundle holds no stack values.
 *
 * Addressing: SPECTRAL_INSTANCES instances, `instance-0` … `instance-<N-1>`, each a router object with two
 * slots, `instance-<i>/blue` and `instance-<i>/green` (cutover.ts). Requests are spread across the
 * instances at random; each serving container runs the API and its own set of background workers, so N
 * instances run N copies of the workers. Instances cut over one after another, so a deploy runs N + 1
 * containers at most. An instance from before blue/green ran its container in the router object itself:
 * its first request after the upgrade waits for a slot's start, and then that container stops.
 *
 * Always on: a cron trigger (every minute) calls `wake()` on every instance, which brings it to the
 * Worker's generation and renews its serving container's activity timer, so `sleepAfter` only stops a
 * container when the cron stops (the Worker is gone or its trigger removed).
 *
 * Cutover (zero pause): on a new SPECTRAL_GENERATION (or SPECTRAL_GIT_SHA), the idle slot starts a
 * container beside the serving one; requests keep going to the serving one until the new one answers
 * /health with 200; then they move, and the old container drains and stops. GET CUTOVER_STATUS_PATH reports
 * every instance, for the deploy's verification.
 */
import { Container, getContainer } from "@cloudflare/containers";
import { containerEnvVars } from "./container-env";
import {
  afterFailedStart,
  afterStart,
  CUTOVER_STATUS_PATH,
  decideRoute,
  doneWith,
  type Health,
  type InstanceStatus,
  instanceCount,
  instanceNames,
  instanceStatus,
  isIdempotent,
  previousInstance,
  type Routing,
  retryReset,
  type Slot,
  slotName,
  startTimeoutMs,
  type Wanted,
} from "./cutover";

/** The API's port in the container (uvicorn, started by app_supervisor.py). */
const API_PORT = 8000;
/** Storage key of a router's Routing record. */
const ROUTING = "routing";
/** The supervisor's stop grace (30 s), then SIGKILL. */
const STOP_TIMEOUT_MS = 30_000;
/** How long a draining slot's in-flight requests may take before its container gets SIGTERM. */
const DRAIN_TIMEOUT_MS = 30_000;
const POLL_MS = 100;
/** One /health probe of a starting container. */
const PROBE_TIMEOUT_MS = 5_000;
/** A slot's answer when its container is not running: the router starts one and does not forward there. */
const SLOT_STOPPED = "x-spectral-slot-stopped";

interface Env {
  SPECTRAL_APP: DurableObjectNamespace<SpectralApp>;
  /** How long an idle container lives, e.g. "10m" (stack config cloudflare.sleepAfter). */
  SPECTRAL_SLEEP_AFTER: string;
  /** How many instances serve the API (stack config cloudflare.instances). */
  SPECTRAL_INSTANCES: string;
  /** How long a new container may take to answer /health with 200 (cloudflare.startTimeoutSeconds). */
  SPECTRAL_START_TIMEOUT_SECONDS: string;
  SPECTRAL_GENERATION: string;
  /** The commit of the image this Worker was deployed with. */
  SPECTRAL_GIT_SHA: string;
  [binding: string]: unknown;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * One class, two roles by name: `instance-<i>` routes and never starts a container of its own;
 * `instance-<i>/<slot>` runs one container, for the generation its router asked for.
 */
export class SpectralApp extends Container<Env> {
  defaultPort = API_PORT;
  /** Router: the start or drain under way (one at a time). */
  private work: Promise<void> | undefined;
  /** Router: requests forwarded to each slot that have not answered yet. */
  private readonly inflight = new Map<Slot, number>();
  /** Slot: how the container last stopped. */
  private lastExit: number | undefined;

  constructor(ctx: ConstructorParameters<typeof Container<Env>>[0], env: Env) {
    super(ctx, env);
    this.sleepAfter = env.SPECTRAL_SLEEP_AFTER;
  }

  // ---- router role ----

  /** A request to this instance: forwarded to the serving slot, which a cutover never pauses. */
  async route(instance: string, request: Request): Promise<Response> {
    const slot = await this.bringCurrent(instance);
    if (!slot) return unavailable(await this.routing());
    const response = await this.forward(instance, slot, request);
    if (!response.headers.has(SLOT_STOPPED)) return response;
    // The serving container stopped (it slept, or crashed): start one; a bodiless request goes there.
    await this.forget(slot);
    const started = await this.bringCurrent(instance);
    if (!started || !isIdempotent(request)) return unavailable(await this.routing());
    return this.forward(instance, started, request);
  }

  /** The cron tick: finish any cutover, start a stopped container, and keep the serving one awake. */
  async wake(instance: string): Promise<InstanceStatus> {
    for (let attempt = 0; attempt < 2; attempt++) {
      await this.bringCurrent(instance);
      await this.work;
      const { serving } = await this.routing();
      if (!serving || (await this.slot(instance, serving.slot).keepAwake())) break;
      await this.forget(serving.slot);
    }
    return instanceStatus(instance, await this.routing());
  }

  /** For the deploy's verification; a poll also moves the cutover along. */
  async status(instance: string): Promise<InstanceStatus> {
    await this.bringCurrent(instance);
    return instanceStatus(instance, await this.routing());
  }

  /** For the next instance: whether this one is done with `generation` (and nudges it along). */
  async isDoneWith(instance: string, generation: string): Promise<boolean> {
    await this.bringCurrent(instance);
    return !this.work && doneWith(await this.routing(), generation);
  }

  private async previousDone(instance: string): Promise<boolean> {
    const previous = previousInstance(instance);
    if (!previous) return true;
    return getContainer(this.env.SPECTRAL_APP, previous).isDoneWith(previous, this.env.SPECTRAL_GENERATION);
  }

  /** Starts what the Worker now wants, if it is not served; returns the slot to serve from now. */
  private async bringCurrent(instance: string): Promise<Slot | undefined> {
    const routing = await this.routing();
    const decision = decideRoute(this.wanted(), routing, Date.now());
    const { startIn } = decision;
    // A first start never waits; a cutover waits for the instance before this one (asked only then).
    const mayStart =
      startIn !== undefined && !this.work && (!decision.serve || (await this.previousDone(instance)));
    // Another request may have begun the same start while this one asked.
    if (startIn && mayStart && !this.work) this.begin(this.startIn(instance, startIn));
    else if (!this.work && routing.draining) this.begin(this.drain(instance, routing.draining));
    // Nothing serves yet: this request waits for the start (a first start, or after a stop).
    if (!decision.serve) await this.work;
    return decision.serve ?? (await this.routing()).serving?.slot;
  }

  private begin(work: Promise<void>): void {
    this.work = work.finally(() => {
      this.work = undefined;
    });
  }

  private async startIn(instance: string, slot: Slot): Promise<void> {
    const { generation } = this.wanted();
    try {
      const { gitSha } = await this.slot(instance, slot).startFor(generation);
      const routing = afterStart(await this.routing(), slot, { generation, gitSha }, Date.now());
      await this.save(routing);
      console.log(`${instance}: generation ${generation} (commit ${gitSha}) serves from ${slot}`);
      if (routing.draining) await this.drain(instance, routing.draining);
      // An instance from before blue/green ran its container in the router itself.
      if (this.ctx.container?.running) await this.stopGracefully();
    } catch (error) {
      const reason = messageOf(error);
      await this.save(afterFailedStart(await this.routing(), generation, reason, Date.now()));
      console.error(`${instance}: generation ${generation} did not start in ${slot}: ${reason}`);
    }
  }

  /** Waits for the slot's in-flight requests (at most DRAIN_TIMEOUT_MS), then stops its container. */
  private async drain(instance: string, slot: Slot): Promise<void> {
    const deadline = Date.now() + DRAIN_TIMEOUT_MS;
    while ((this.inflight.get(slot) ?? 0) > 0 && Date.now() < deadline) await sleep(POLL_MS);
    await this.slot(instance, slot).stopContainer();
    const routing = await this.routing();
    if (routing.draining === slot) await this.save({ ...routing, draining: undefined });
    console.log(`${instance}: ${slot} drained and stopped`);
  }

  private async forward(instance: string, slot: Slot, request: Request): Promise<Response> {
    this.inflight.set(slot, (this.inflight.get(slot) ?? 0) + 1);
    try {
      return await this.slot(instance, slot).fetch(request);
    } finally {
      this.inflight.set(slot, (this.inflight.get(slot) ?? 1) - 1);
    }
  }

  /** The slot's container is not running: nothing serves until a start. */
  private async forget(slot: Slot): Promise<void> {
    const routing = await this.routing();
    if (routing.serving?.slot === slot) await this.save({ ...routing, serving: undefined });
  }

  private wanted(): Wanted {
    return { generation: this.env.SPECTRAL_GENERATION, gitSha: this.env.SPECTRAL_GIT_SHA };
  }

  private slot(instance: string, slot: Slot) {
    return getContainer(this.env.SPECTRAL_APP, slotName(instance, slot));
  }

  private async routing(): Promise<Routing> {
    return (await this.ctx.storage.get<Routing>(ROUTING)) ?? {};
  }

  private save(routing: Routing): Promise<void> {
    return this.ctx.storage.put(ROUTING, routing);
  }

  // ---- slot role ----

  /** Requests reach a running container only; a stopped one answers SLOT_STOPPED to its router. */
  override async fetch(request: Request): Promise<Response> {
    if (!this.ctx.container?.running)
      return new Response(null, { status: 503, headers: { [SLOT_STOPPED]: "1" } });
    return super.fetch(request);
  }

  /**
   * Starts this slot's container for `generation` with the Worker's environment, and returns once its
   * /health answers 200. On failure the container is removed, so nothing half-started takes traffic.
   */
  async startFor(generation: string): Promise<{ gitSha: string }> {
    if (this.env.SPECTRAL_GENERATION !== generation)
      throw new Error(`superseded: the Worker now carries generation ${this.env.SPECTRAL_GENERATION}`);
    if (this.ctx.container?.running) await this.stopGracefully();
    this.lastExit = undefined;
    const timeoutMs = startTimeoutMs(this.env.SPECTRAL_START_TIMEOUT_SECONDS);
    const deadline = Date.now() + timeoutMs;
    const late = `/health did not answer 200 within ${timeoutMs / 1000} s`;
    try {
      // start() waits for the port to open, and for ever when it never does (while the container runs).
      const started = this.start({ envVars: containerEnvVars(this.env) });
      started.catch(() => undefined);
      await beforeDeadline(started, deadline, `${late} (last: port ${API_PORT} never opened)`);
      const health = await this.waitUntilHealthy(deadline, late);
      return { gitSha: health.build?.sha ?? "" };
    } catch (error) {
      // Whether or not it runs at this moment: the engine may be restarting a crashed one.
      await this.destroy().catch(() => undefined);
      throw error;
    }
  }

  async stopContainer(): Promise<void> {
    if (this.ctx.container?.running) await this.stopGracefully();
  }

  /** Renews the activity timer; false when the container is not running (it slept or crashed). */
  async keepAwake(): Promise<boolean> {
    if (!this.ctx.container?.running) return false;
    this.renewActivityTimeout();
    return true;
  }

  override onStop({ exitCode }: { exitCode: number }): void {
    this.lastExit = exitCode;
  }

  /** SIGTERM (the supervisor stops its children cleanly), then SIGKILL if it outlives the grace. */
  private async stopGracefully(): Promise<void> {
    await this.stop("SIGTERM");
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.ctx.container?.running && Date.now() < deadline) await sleep(POLL_MS);
    if (this.ctx.container?.running) await this.destroy();
  }

  /** Ready means a 200 from /health, not just an open port (waitForPort counts any answer). */
  private async waitUntilHealthy(deadline: number, late: string): Promise<Health> {
    let last = "no answer";
    while (Date.now() < deadline) {
      const container = this.ctx.container;
      if (!container?.running)
        throw new Error(
          `the container exited during its start${this.lastExit === undefined ? "" : ` (exit code ${this.lastExit})`}`,
        );
      try {
        // The port itself, not containerFetch: that one would start the container again, and wait on its own.
        const response = await container.getTcpPort(API_PORT).fetch("http://container/health", {
          signal: AbortSignal.timeout(Math.max(1, Math.min(PROBE_TIMEOUT_MS, deadline - Date.now()))),
        });
        if (response.status === 200) return (await response.json()) as Health;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = messageOf(error);
      }
      await sleep(POLL_MS);
    }
    throw new Error(`${late} (last: ${last})`);
  }
}

/** `work`'s outcome, or an error with `message` at `deadline` (the work itself is abandoned). */
async function beforeDeadline<T>(work: Promise<T>, deadline: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | null = null;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), Math.max(0, deadline - Date.now()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    if (timer !== null) clearTimeout(timer);
  }
}

/** Nothing serves this instance: the first start failed, or none has finished yet. */
function unavailable(routing: Routing): Response {
  const failed = routing.failed ? `: generation ${routing.failed.generation} did not start` : "";
  return new Response(`Service Unavailable${failed}\n`, { status: 503, headers: { "retry-after": "60" } });
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const names = instanceNames(instanceCount(env.SPECTRAL_INSTANCES));
    if (new URL(request.url).pathname === CUTOVER_STATUS_PATH) {
      const statuses = await Promise.all(
        names.map((name) => getContainer(env.SPECTRAL_APP, name).status(name)),
      );
      return Response.json({ instances: statuses });
    }
    const name = names[Math.floor(Math.random() * names.length)];
    return retryReset(request, () => getContainer(env.SPECTRAL_APP, name).route(name, request));
  },

  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    const names = instanceNames(instanceCount(env.SPECTRAL_INSTANCES));
    await Promise.all(names.map((name) => getContainer(env.SPECTRAL_APP, name).wake(name)));
  },
} satisfies ExportedHandler<Env>;
