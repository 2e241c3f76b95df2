/**
 * The Spectral Worker: fronts the app container (Cloudflare Containers) and forwards its own secret
 * bindings into the container's environment (ADR-049 D6, the secret hop). Bundled by esbuild during
 * `pulumi up` (lib/worker/bundle.ts); settings arrive as bindings, so the bundle holds no stack values.
 *
 * Addressing: one named instance, "app". The container runs the API and the workers together; one
 * instance keeps exactly one set of workers running, and max_instances leaves room for a rollout's
 * replacement to start next to it.
 */
import { Container, getContainer } from "@cloudflare/containers";
import { containerEnvVars } from "./container-env";

/** The API's port in the container (uvicorn, started by app_supervisor.py). */
const API_PORT = 8000;
const INSTANCE = "app";

interface Env {
  SPECTRAL_APP: DurableObjectNamespace<SpectralApp>;
  /** How long an idle container lives, e.g. "10m" (stack config cloudflare.sleepAfter). */
  SPECTRAL_SLEEP_AFTER: string;
  [binding: string]: unknown;
}

export class SpectralApp extends Container<Env> {
  defaultPort = API_PORT;
  // Readiness is the API's /health: the platform starts routing once it answers.
  pingEndpoint = "localhost/health";

  constructor(ctx: ConstructorParameters<typeof Container<Env>>[0], env: Env) {
    super(ctx, env);
    this.sleepAfter = env.SPECTRAL_SLEEP_AFTER;
    this.envVars = containerEnvVars(env);
  }
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    return getContainer(env.SPECTRAL_APP, INSTANCE).fetch(request);
  },
} satisfies ExportedHandler<Env>;
