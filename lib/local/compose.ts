/**
 * The local compose flow's pure parts (ADR-049 D4): which compose command each `pnpm compose:*` script
 * runs, and what `up` checks first so that a missing prerequisite fails with one clear sentence before any
 * container starts.
 */

export const COMPOSE_FILE = "infra/local/compose.yml";
export const ENV_FILE = "infra/local/.env";
export const ENV_EXAMPLE = "infra/local/.env.example";
/** The name compose.yml uses for the host, as Docker Desktop defines it; compose maps it to host-gateway. */
export const HOST_ALIAS = "host.docker.internal";

export type LocalCommand = "up" | "down" | "logs" | "build" | "config";
export const LOCAL_COMMANDS: readonly LocalCommand[] = ["up", "down", "logs", "build", "config"];

export class LocalComposeError extends Error {}

/** `docker compose` on the one compose file, with the frontend profile when asked. */
export function compose(frontend: boolean): string[] {
  return ["compose", "-f", COMPOSE_FILE, ...(frontend ? ["--profile", "frontend"] : [])];
}

/** The `docker` arguments for one script: the compose file, the frontend profile when asked, the command. */
export function composeArgs(command: LocalCommand, frontend: boolean): string[] {
  const base = compose(frontend);
  const rest: Record<LocalCommand, string[]> = {
    up: ["up", "--build", "--detach", "--wait"],
    // Volumes too, so that a down leaves nothing of the project behind.
    down: ["down", "--volumes", "--remove-orphans"],
    logs: ["logs", "--follow"],
    build: ["build"],
    config: ["config"],
  };
  return [...base, ...rest[command]];
}

/** KEY=VALUE lines of an env file, as compose reads them (comments and blank lines skipped, quotes removed). */
export function parseEnvFile(text: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match || line.trimStart().startsWith("#")) continue;
    entries.set(match[1], match[2].replace(/^(['"])(.*)\1$/, "$2"));
  }
  return entries;
}

/** A database the containers reach on the host: the env key that names it and the host port it needs. */
export interface HostDatabase {
  key: string;
  port: number;
}

/** The `*_DATABASE_URL` entries that point at the host; each must answer before the services start. */
export function hostDatabases(env: ReadonlyMap<string, string>): HostDatabase[] {
  const found: HostDatabase[] = [];
  for (const [key, value] of env) {
    if (!key.endsWith("DATABASE_URL")) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new LocalComposeError(
        `${ENV_FILE}: ${key} is not a URL; write it as postgresql://user:password@host:port/db.`,
      );
    }
    if (url.hostname === HOST_ALIAS) found.push({ key, port: Number(url.port || 5432) });
  }
  return found;
}

/** Published host ports by service, from `docker compose config --format json`. */
export function publishedPorts(config: {
  services: Record<string, { ports?: { published?: string | number; target?: number }[] }>;
}): Map<string, number[]> {
  const ports = new Map<string, number[]>();
  for (const [service, definition] of Object.entries(config.services)) {
    const published = (definition.ports ?? []).flatMap((port) =>
      port.published ? [Number(port.published)] : [],
    );
    if (published.length > 0) ports.set(service, published);
  }
  return ports;
}

export function missingEnvFileMessage(): string {
  return `${ENV_FILE} is missing. Copy the example and fill it in: cp ${ENV_EXAMPLE} ${ENV_FILE}`;
}

export function databaseDownMessage(database: HostDatabase): string {
  return (
    `${ENV_FILE}: ${database.key} points at ${HOST_ALIAS}:${database.port}, but nothing answers on port ` +
    `${database.port} of this machine. Start PostgreSQL there (\`supabase start\` listens on 54322), then run this again.`
  );
}

export function portTakenMessage(service: string, port: number): string {
  return (
    `port ${port}, which the ${service} service publishes, is already in use on this machine. ` +
    `Stop what holds it (\`pnpm dev\` uses the same ports), then run this again.`
  );
}
