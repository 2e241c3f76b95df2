/**
 * A throwaway PostgreSQL cluster for the suite: `initdb` + `pg_ctl` in a temp dir, on a free loopback
 * port, password authentication, connection logging (so tests can count connections server-side), and
 * the repo's migration applied. `DATABASE_URL` (a superuser URL) points the suite at an existing server
 * instead; then the connection-counting test reports SKIPPED.
 */
import { execFileSync } from "node:child_process";
import {
  appendFileSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { REPO_ROOT } from "./alpha";
import { skipLoudly } from "./skip";

export const MIGRATION = join(REPO_ROOT, "supabase/migrations/20261124000000_core_deployments.sql");
export const DEPLOYER_PASSWORD = "deployer-test-password";
const ADMIN_PASSWORD = "admin-test-password";

export interface TestDatabase {
  /** Superuser URL. */
  adminUrl: string;
  /** The least-privilege deploy role's URL. */
  deployerUrl: string;
  /** Server log with one line per connection, or undefined for an external server. */
  logFile: string | undefined;
}

/** A server's TLS identity, and the address its certificate's name resolves to. */
export interface ServerTls {
  certificate: string;
  key: string;
  address: string;
}

/** How a cluster is reached beyond a free loopback port. */
export interface ClusterOptions {
  /** TLS with this identity, as ServerTls says. */
  tls?: ServerTls;
  /** A fixed port instead of a free one (the local compose flow expects supabase's 54322). */
  port?: number;
  /**
   * Also listen on `address` (a Docker bridge's gateway, which containers reach as host.docker.internal)
   * and accept md5 password logins from `networks`, the only method a client without a driver can speak.
   */
  bridge?: { address: string; networks: string[] };
}

export type TestDatabaseSetup = { database: TestDatabase } | { skipped: string };

function findBinDir(): string | undefined {
  const candidates = readdirSafe("/usr/lib/postgresql")
    .sort()
    .reverse()
    .map((version) => `/usr/lib/postgresql/${version}/bin`);
  return candidates.find((dir) => existsSync(join(dir, "initdb")) && existsSync(join(dir, "pg_ctl")));
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export async function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export async function applyMigration(adminUrl: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(readFileSync(MIGRATION, "utf8"));
    await client.query(`alter role spectral_deployer password '${DEPLOYER_PASSWORD}'`);
  } finally {
    await client.end();
  }
}

function withUser(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = user;
  parsed.password = password;
  return parsed.toString();
}

export class ThrowawayCluster {
  private constructor(
    private readonly dir: string,
    private readonly binDir: string,
    private readonly runAs: string[],
  ) {}

  /**
   * `tls` turns on TLS with this key and certificate, and also listens on `address` (which clients reach by
   * a name the certificate lists), accepting TLS connections only from there. `bridge`: see ClusterOptions.
   */
  static async start({
    tls,
    port: fixedPort,
    bridge,
  }: ClusterOptions = {}): Promise<
    { cluster: ThrowawayCluster; database: TestDatabase } | { skipped: string }
  > {
    const binDir = findBinDir();
    if (!binDir)
      return {
        skipped: "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)",
      };
    const dir = mkdtempSync(join(tmpdir(), "spectral-pg-"));
    // initdb refuses to run as root; the Debian package's postgres user owns the cluster then.
    const runAs = process.getuid?.() === 0 ? ["runuser", "-u", "postgres", "--"] : [];
    if (runAs.length > 0) {
      const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }));
      const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }));
      chownSync(dir, uid, gid);
    }
    const cluster = new ThrowawayCluster(dir, binDir, runAs);
    const port = fixedPort ?? (await freeLoopbackPort());
    const pwfile = join(dir, "pwfile");
    writeFileSync(pwfile, ADMIN_PASSWORD);
    if (runAs.length > 0) execFileSync("chown", ["postgres", pwfile]);
    cluster.run("initdb", [
      "-D",
      join(dir, "data"),
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "-E",
      "UTF8",
    ]);
    const listen = ["127.0.0.1"];
    let tlsOptions = "";
    if (tls) {
      const data = join(dir, "data");
      writeFileSync(join(data, "server.crt"), tls.certificate);
      writeFileSync(join(data, "server.key"), tls.key, { mode: 0o600 });
      const mask = tls.address.includes(":") ? 128 : 32;
      appendFileSync(join(data, "pg_hba.conf"), `hostssl all all ${tls.address}/${mask} scram-sha-256\n`);
      if (runAs.length > 0)
        execFileSync("chown", ["postgres", join(data, "server.crt"), join(data, "server.key")]);
      if (tls.address !== "127.0.0.1") listen.push(tls.address);
      tlsOptions = " -c ssl=on";
    }
    if (bridge) {
      for (const network of bridge.networks)
        appendFileSync(join(dir, "data", "pg_hba.conf"), `host all all ${network} md5\n`);
      listen.push(bridge.address);
    }
    const logFile = join(dir, "server.log");
    cluster.run("pg_ctl", [
      "-D",
      join(dir, "data"),
      "-l",
      logFile,
      "-w",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=${listen.join(",")} -c log_connections=on -c max_connections=200${tlsOptions}`,
      "start",
    ]);
    const adminUrl = `postgres://postgres:${ADMIN_PASSWORD}@127.0.0.1:${port}/postgres`;
    await applyMigration(adminUrl);
    return {
      cluster,
      database: {
        adminUrl,
        deployerUrl: withUser(adminUrl, "spectral_deployer", DEPLOYER_PASSWORD),
        logFile,
      },
    };
  }

  private run(tool: string, args: string[]): void {
    const [command, ...prefix] = [...this.runAs, join(this.binDir, tool)];
    execFileSync(command, [...prefix, ...args], { stdio: "pipe" });
  }

  stop(): void {
    try {
      this.run("pg_ctl", ["-D", join(this.dir, "data"), "-m", "immediate", "-w", "stop"]);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Why the tests that count connections in the server's log cannot run (an external server given by
 * DATABASE_URL, whose log this suite cannot read), said aloud; undefined when they can. CI starts its own.
 */
export function connectionLogMissing(database: TestDatabase | undefined): string | undefined {
  if (!database || database.logFile) return undefined;
  return skipLoudly(
    "connection-counting tests",
    "DATABASE_URL points at an external server, whose connection log this suite cannot read",
  );
}

/** Connections the server accepted for `role`, read from its connection log. */
export function connectionsLogged(logFile: string, role: string): number {
  return readFileSync(logFile, "utf8")
    .split("\n")
    .filter((line) => line.includes("connection authorized") && line.includes(`user=${role} `)).length;
}

/**
 * A login role with the deploy role's grants, used by one test alone, so connections counted for it
 * cannot come from suites running in parallel.
 */
export async function probeRoleUrl(database: TestDatabase, role: string): Promise<string> {
  const client = new Client({ connectionString: database.adminUrl });
  await client.connect();
  try {
    await client.query(`drop role if exists ${role}`);
    await client.query(`create role ${role} login password '${DEPLOYER_PASSWORD}' in role spectral_deployer`);
  } finally {
    await client.end();
  }
  return withUser(database.adminUrl, role, DEPLOYER_PASSWORD);
}

export async function externalDatabase(adminUrl: string): Promise<TestDatabase> {
  await applyMigration(adminUrl);
  return {
    adminUrl,
    deployerUrl: withUser(adminUrl, "spectral_deployer", DEPLOYER_PASSWORD),
    logFile: undefined,
  };
}
