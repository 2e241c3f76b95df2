/**
 * The Worker's half of the secret hop: from the Worker's own env (its bindings) to the environment the
 * container starts with. Pure, so it is unit-tested in Node; the Durable Object class calls it.
 *
 * The container receives exactly: SPECTRAL_GENERATION, SPECTRAL_SECRET_MANIFEST, and every binding the
 * manifest names (env secrets by name, file secrets as SPECTRAL_FILE_<NAME>, already base64 as
 * app_supervisor.py expects). Nothing else the Worker holds (its Durable Object namespace, its own
 * settings) reaches the container.
 */
import {
  type ContainerSecretLayout,
  GENERATION_BINDING,
  SECRET_MANIFEST_BINDING,
} from "../../lib/secrets/container-contract";

export class ContainerEnvError extends Error {}

export function containerEnvVars(env: Readonly<Record<string, unknown>>): Record<string, string> {
  const manifestText = env[SECRET_MANIFEST_BINDING];
  if (typeof manifestText !== "string") {
    throw new ContainerEnvError(
      `the Worker has no ${SECRET_MANIFEST_BINDING} binding: redeploy with pulumi up`,
    );
  }
  let layout: ContainerSecretLayout;
  try {
    layout = JSON.parse(manifestText) as ContainerSecretLayout;
  } catch {
    throw new ContainerEnvError(`${SECRET_MANIFEST_BINDING} is not JSON: redeploy with pulumi up`);
  }
  const names = [
    GENERATION_BINDING,
    SECRET_MANIFEST_BINDING,
    ...Object.keys(layout.env ?? {}),
    ...Object.keys(layout.files ?? {}),
  ];
  const missing = names.filter((name) => typeof env[name] !== "string");
  if (missing.length > 0) {
    // Names only: a value never appears in an error.
    throw new ContainerEnvError(`the Worker lacks bindings the container needs: ${missing.join(", ")}`);
  }
  return Object.fromEntries(names.map((name) => [name, env[name] as string]));
}
