/**
 * The names the Worker and app_supervisor.py agree on (the secret hop). Plain constants and types only,
 * so the Worker bundle can import them without pulling in Node code.
 *
 *   - an env secret NAME arrives as env var NAME;
 *   - a file secret NAME arrives base64-encoded as env var SPECTRAL_FILE_<NAME>, written by PID 1 to
 *     /etc/spectral/<fileName> before the app starts, and removed from the children's environment;
 *   - SPECTRAL_SECRET_MANIFEST (plain JSON, no values) says which child may see what:
 *     { "env": { NAME: scope }, "files": { "SPECTRAL_FILE_<NAME>": { "path": ..., "scope": ... } } };
 *   - SPECTRAL_GENERATION is the deployment generation the container was started for.
 */
export const SECRET_MANIFEST_BINDING = "SPECTRAL_SECRET_MANIFEST";
export const FILE_BINDING_PREFIX = "SPECTRAL_FILE_";
export const SECRET_FILES_DIR = "/etc/spectral";
export const GENERATION_BINDING = "SPECTRAL_GENERATION";

export type Scope = "app" | "api" | "workers";

export interface ContainerSecretLayout {
  env: Record<string, Scope>;
  files: Record<string, { path: string; scope: Scope }>;
}
