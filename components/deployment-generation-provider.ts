/**
 * Dynamic provider of DeploymentGeneration. The engine serializes it as a closure and runs it in another
 * process, so its methods capture nothing: they `require` what they use, and every credential arrives as
 * an input. `check` and `diff` run in preview too and touch nothing; only `create` opens a connection.
 */
import type * as pulumi from "@pulumi/pulumi";

/** Inputs as the provider receives them (already resolved). */
export interface DeploymentGenerationInputs {
  stack: string;
  service: string;
  imageDigest: string;
  gitSha: string;
  fingerprint: string;
  /** The deploy role's URL (a dev stack's, from its local file); a Pulumi secret, never an output. */
  databaseUrl?: string;
  /**
   * Where 1Password holds that URL (`database.deployUrlReference`): `create` reads it with the
   * service-account token from the environment, so the URL never enters Pulumi state.
   */
  databaseUrlReference?: string;
  /** PEM root CA the server's certificate must chain to; "" trusts Node's default store only. */
  databaseCa?: string;
  /** How long to wait for a connection; default 10. */
  connectTimeoutSeconds?: number;
}

/** Outputs kept in state: everything but the URL. */
export interface DeploymentGenerationOutputs {
  stack: string;
  service: string;
  imageDigest: string;
  gitSha: string;
  fingerprint: string;
  generation: number;
  deployedBy: string;
  createdAt: string;
}

/** How `create` connects: pg's client settings, and what messages may name (never the password). */
export interface DeployDatabaseConnection {
  /** host:port */
  where: string;
  role: string;
  password: string;
  config: {
    host: string;
    port: number;
    user: string;
    password: string;
    database?: string;
    ssl: false | { rejectUnauthorized: boolean; ca?: string };
  };
}

export interface DeploymentGenerationProvider extends pulumi.dynamic.ResourceProvider {
  connection(databaseUrl: string, ca: string): DeployDatabaseConnection;
}

export const deploymentGenerationProvider: DeploymentGenerationProvider = {
  /**
   * The deploy database's connection, from its URL's own parts only. Off loopback, TLS is always on and
   * verified (chain and host name), against `ca` when given. pg would honour query parameters that override
   * the URL (`ssl=0`, `host=`, `sslrootcert=`, `uselibpqcompat=`; platform facts), so any parameter other
   * than `sslmode` is refused, and the URL never reaches pg as a connection string.
   */
  connection(databaseUrl, ca) {
    const sslModes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full", "no-verify"];
    // Modes that skip TLS or its verification: refused off loopback.
    const unverifiedSslModes = ["disable", "allow", "prefer", "no-verify"];
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      throw new Error(
        "deployment database URL is not a valid postgres:// URL: check database.deployUrlReference",
      );
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      throw new Error(
        `deployment database URL must start with postgres:// or postgresql://, not ${url.protocol}//: check database.deployUrlReference`,
      );
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const port = Number(url.port || "5432");
    const where = `${host}:${port}`;
    if (host === "") {
      throw new Error("deployment database URL has no host: check database.deployUrlReference");
    }
    const unhonoured = [...new Set(url.searchParams.keys())].filter((name) => name !== "sslmode");
    if (unhonoured.length > 0) {
      throw new Error(
        `deployment database URL for ${where} has query parameter ${unhonoured.join(", ")}, which this deploy does not honour (host, port and TLS come from the URL itself): remove it from the item behind database.deployUrlReference`,
      );
    }
    const sslmode = url.searchParams.get("sslmode") ?? "";
    if (sslmode !== "" && !sslModes.includes(sslmode)) {
      throw new Error(
        `deployment database URL for ${where} has sslmode=${sslmode}: use verify-full, or leave it out`,
      );
    }
    const loopback = host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
    if (!loopback && unverifiedSslModes.includes(sslmode)) {
      throw new Error(
        `deployment database URL for ${where} has sslmode=${sslmode}, which skips TLS or its verification; off loopback the certificate is always verified: remove sslmode, and set database.caReference to the server's root CA`,
      );
    }
    const verify = !loopback || sslmode === "verify-ca" || sslmode === "verify-full";
    const ssl =
      !verify && (sslmode === "" || sslmode === "disable")
        ? false
        : { rejectUnauthorized: verify, ...(verify && ca ? { ca } : {}) };
    const role = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const database = decodeURIComponent(url.pathname.slice(1)) || undefined;
    return { where, role, password, config: { host, port, user: role, password, database, ssl } };
  },

  async diff(_id: string, olds: DeploymentGenerationOutputs, news: DeploymentGenerationInputs) {
    // A change to any of these is a new deployment: replace, which allocates a new generation. The URL
    // and the timeout are how we reach the database, not what we deploy.
    const replaces = (["stack", "service", "imageDigest", "gitSha", "fingerprint"] as const).filter(
      (key) => olds[key] !== news[key],
    );
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: DeploymentGenerationInputs) {
    const { Client } = require("pg") as typeof import("pg");
    const { readOnePasswordReference } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const os = require("node:os") as typeof import("node:os");
    const migration = "supabase/migrations/20261124000000_core_deployments.sql";

    const { where, role, password, config } = this.connection(
      inputs.databaseUrl ??
        (await readOnePasswordReference(inputs.databaseUrlReference ?? "", "database.deployUrlReference")),
      inputs.databaseCa ?? "",
    );
    const connectTimeoutSeconds = inputs.connectTimeoutSeconds ?? 10;

    const explain = (error: unknown): Error => {
      const { code, message } = error as { code?: string; message?: string };
      const detail = password ? String(message).split(password).join("***") : String(message);
      if (code === "57014") {
        return new Error(
          `the deployment database at ${where} did not allocate a generation within 15s (statement timeout, 57014): a session is holding a lock on core.deployments; find it in pg_stat_activity and end it, then run pulumi up again`,
        );
      }
      if (
        code === "ECONNREFUSED" ||
        code === "ENOTFOUND" ||
        code === "EAI_AGAIN" ||
        /timeout/i.test(detail)
      ) {
        return new Error(
          `deployment database unreachable at ${where} (gave up after ${connectTimeoutSeconds}s: ${code ?? detail}); check the host and port in the URL and that this machine may connect`,
        );
      }
      if (code === "28P01" || code === "28000") {
        return new Error(
          `deployment database at ${where} rejected role ${role}: authentication failed; check the password in the 1Password item behind database.deployUrlReference`,
        );
      }
      if (code === "3F000" || code === "42P01") {
        return new Error(
          `core.deployments does not exist in the deployment database at ${where}: apply migration ${migration}`,
        );
      }
      if (code === "42501") {
        return new Error(
          `role ${role} may not allocate generations: grant USAGE on schema core, INSERT (stack, service, image_digest, git_sha, fingerprint, deployed_by) and SELECT (generation) on core.deployments, as migration ${migration} does`,
        );
      }
      // Node's codes for a certificate that does not chain to a trusted root.
      const untrusted = [
        "SELF_SIGNED_CERT_IN_CHAIN",
        "DEPTH_ZERO_SELF_SIGNED_CERT",
        "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
        "UNABLE_TO_GET_ISSUER_CERT",
        "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
      ];
      if (untrusted.includes(code ?? "")) {
        return new Error(
          inputs.databaseCa
            ? `the deployment database at ${where} presented a certificate that does not chain to the CA in database.caReference (${code}); check that the item holds this server's root CA`
            : `the deployment database at ${where} presented a certificate this deploy does not trust (${code}); set database.caReference to the 1Password item holding the server's root CA (Supabase: Database settings, SSL certificate)`,
        );
      }
      if (code === "ERR_TLS_CERT_ALTNAME_INVALID" || code === "CERT_HAS_EXPIRED") {
        return new Error(
          `the deployment database at ${where} presented a certificate that is ${code === "CERT_HAS_EXPIRED" ? "expired" : `not for ${where.replace(/:\d+$/, "")}`} (${code}); TLS is verified, so the deploy stops`,
        );
      }
      if (/does not support SSL/i.test(detail)) {
        return new Error(
          `TLS is required for the deployment database at ${where}, but the server does not offer it; enable TLS on the server`,
        );
      }
      return new Error(
        `could not allocate a deployment generation at ${where}: ${detail}${code ? ` (${code})` : ""}`,
      );
    };

    const client = new Client({
      ...config,
      connectionTimeoutMillis: connectTimeoutSeconds * 1000,
      statement_timeout: 15_000,
      query_timeout: 20_000,
      application_name: "spectral-infra",
    });
    // Errors after connect (a dropped socket) must not crash the provider host.
    client.on("error", () => undefined);
    const deployedBy =
      process.env.SPECTRAL_DEPLOYED_BY ||
      (process.env.GITHUB_ACTIONS === "true"
        ? `github-actions:${process.env.GITHUB_REPOSITORY}@${process.env.GITHUB_RUN_ID} (${process.env.GITHUB_ACTOR})`
        : `${os.userInfo().username}@${os.hostname()}`);
    try {
      await client.connect();
      // One statement on one connection, in its own implicit transaction: the identity column hands out
      // each number once, even to concurrent deploys and to a retry after a crash (which may skip one).
      const result = await client.query<{ generation: string }>(
        `insert into core.deployments (stack, service, image_digest, git_sha, fingerprint, deployed_by)
         values ($1, $2, $3, $4, $5, $6)
         returning generation`,
        [inputs.stack, inputs.service, inputs.imageDigest, inputs.gitSha, inputs.fingerprint, deployedBy],
      );
      const generation = Number(result.rows[0].generation);
      const outs: DeploymentGenerationOutputs = {
        stack: inputs.stack,
        service: inputs.service,
        imageDigest: inputs.imageDigest,
        gitSha: inputs.gitSha,
        fingerprint: inputs.fingerprint,
        generation,
        deployedBy,
        createdAt: new Date().toISOString(),
      };
      return { id: String(generation), outs };
    } catch (error) {
      throw explain(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  },

  async delete() {
    // Rows stay: core.deployments keeps every generation forever (ADR-049 D7).
  },
};
