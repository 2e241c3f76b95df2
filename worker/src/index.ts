/**
 * The Spectral Worker: fronts the app container (Cloudflare Containers) and forwards its own secret
 * bindings into the container's environment (ADR-049 D6, the secret hop). Bundled by esbuild during
 * `pulumi up` (lib/worker/bundle.ts); settings arrive as bindings, so the bundle holds no stack values.
 *
 * Addressing: SPECTRAL_INSTANCES named instances, `instance-0` … `instance-<N-1>` (the names
 * @cloudflare/containers' getRandom uses). Requests are spread across them at random; each instance runs
 * the API and its own set of background workers, so N instances run N copies of the workers.
 *
 * Always on: a cron trigger (every minute) calls `wake()` on every instance, which starts a stopped
 * container and renews its activity timer, so `sleepAfter` only stops a container when the cron stops
 * (the Worker is gone or its trigger removed).
 *
 * Cutover: on every request and every tick, each object compares the generation (and image) its running
 * container was started for with the Worker's SPECTRAL_GENERATION (and SPECTRAL_GIT_SHA), and restarts the
 * container on a mismatch (see cutover.ts). Readiness is a 200 from /health; requests wait for it.
 */
import { Container, getContainer, getRandom } from "@cloudflare/containers";
import { containerEnvVars } from "./container-env";
import { cutoverAction, type Health, instanceCount, instanceNames, type StartedFor } from "./cutover";

/** The API's port in the container (uvicorn, started by app_supervisor.py). */
const API_PORT = 8000;
/** Storage key of what the running container was started for. */
const STARTED_FOR = "startedFor";
/** How long a restart may take: the supervisor's stop grace, then a start and a healthy /health. */
const STOP_TIMEOUT_MS = 30_000;
const HEALTHY_TIMEOUT_MS = 90_000;
const POLL_MS = 250;

interface Env {
  SPECTRAL_APP: DurableObjectNamespace<SpectralApp>;
  /** How long an idle container lives, e.g. "10m" (stack config cloudflare.sleepAfter). */
  SPECTRAL_SLEEP_AFTER: string;
  /** How many named instances serve the API (stack config cloudflare.instances). */
  SPECTRAL_INSTANCES: string;
  SPECTRAL_GENERATION: string;
  /** The commit of the image this Worker was deployed with. */
  SPECTRAL_GIT_SHA: string;
  [binding: string]: unknown;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class SpectralApp extends Container<Env> {
  defaultPort = API_PORT;
  private cutover: Promise<void> | undefined;

  constructor(ctx: ConstructorParameters<typeof Container<Env>>[0], env: Env) {
    super(ctx, env);
    this.sleepAfter = env.SPECTRAL_SLEEP_AFTER;
    this.envVars = containerEnvVars(env);
  }

  /** Requests reach the container once it runs the Worker's generation and is healthy. */
  override async fetch(request: Request): Promise<Response> {
    await this.ensureCurrent();
    return super.fetch(request);
  }

  /** The cron tick: start or cut over this instance, and keep it awake. */
  async wake(): Promise<StartedFor | undefined> {
    await this.ensureCurrent();
    this.renewActivityTimeout();
    return this.ctx.storage.get<StartedFor>(STARTED_FOR);
  }

  /** One cutover at a time; concurrent requests wait for the same one. */
  private ensureCurrent(): Promise<void> {
    this.cutover ??= this.bringCurrent().finally(() => {
      this.cutover = undefined;
    });
    return this.cutover;
  }

  private async bringCurrent(): Promise<void> {
    const wanted: StartedFor = {
      generation: this.env.SPECTRAL_GENERATION,
      gitSha: this.env.SPECTRAL_GIT_SHA,
    };
    const startedFor = await this.ctx.storage.get<StartedFor>(STARTED_FOR);
    const action = cutoverAction(wanted, this.ctx.container?.running ?? false, startedFor, Date.now());
    if (action === "serve") return;
    if (action === "restart") await this.stopGracefully();
    await this.start({ envVars: this.envVars });
    const health = await this.waitUntilHealthy();
    await this.ctx.storage.put(STARTED_FOR, {
      generation: wanted.generation,
      gitSha: health.build?.sha ?? "",
      startedAt: Date.now(),
    } satisfies StartedFor);
  }

  /** SIGTERM (the supervisor stops its children cleanly), then SIGKILL if it outlives the grace. */
  private async stopGracefully(): Promise<void> {
    await this.stop("SIGTERM");
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (this.ctx.container?.running && Date.now() < deadline) await sleep(POLL_MS);
    if (this.ctx.container?.running) await this.destroy();
  }

  /** Ready means a 200 from /health, not just an open port (waitForPort counts any answer). */
  private async waitUntilHealthy(): Promise<Health> {
    const deadline = Date.now() + HEALTHY_TIMEOUT_MS;
    let last = "no answer";
    while (Date.now() < deadline) {
      try {
        const response = await this.containerFetch("http://container/health", API_PORT);
        if (response.status === 200) return (await response.json()) as Health;
        last = `HTTP ${response.status}`;
      } catch (error) {
        last = String(error);
      }
      await sleep(POLL_MS);
    }
    throw new Error(
      `the container did not answer /health with 200 within ${HEALTHY_TIMEOUT_MS / 1000}s (last: ${last})`,
    );
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const instance = await getRandom(env.SPECTRAL_APP, instanceCount(env.SPECTRAL_INSTANCES));
    return instance.fetch(request);
  },

  async scheduled(_controller: ScheduledController, env: Env): Promise<void> {
    const names = instanceNames(instanceCount(env.SPECTRAL_INSTANCES));
    await Promise.all(names.map((name) => getContainer(env.SPECTRAL_APP, name).wake()));
  },
} satisfies ExportedHandler<Env>;
