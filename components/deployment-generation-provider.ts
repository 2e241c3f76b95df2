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
  /** The deploy role's URL; a Pulumi secret, never part of the outputs. */
  databaseUrl: string;
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

export const deploymentGenerationProvider: pulumi.dynamic.ResourceProvider = {
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
    const os = require("node:os") as typeof import("node:os");
    const migration = "supabase/migrations/20261124000000_core_deployments.sql";

    let url: URL;
    try {
      url = new URL(inputs.databaseUrl);
    } catch {
      throw new Error(
        "deployment database URL is not a valid postgres:// URL: check database.deployUrlReference",
      );
    }
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const where = `${host || "local socket"}:${url.port || "5432"}`;
    const role = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    const sslmode = url.searchParams.get("sslmode");
    url.searchParams.delete("sslmode"); // the ssl option below decides, not the URL parser
    const loopback = host === "" || host === "localhost" || host === "::1" || /^127\./.test(host);
    if (!loopback && sslmode === "disable") {
      throw new Error(
        `TLS is required for the deployment database at ${where}: remove sslmode=disable from its URL`,
      );
    }
    const wantsTls = !loopback || ["require", "verify-ca", "verify-full"].includes(sslmode ?? "");
    const connectTimeoutSeconds = inputs.connectTimeoutSeconds ?? 10;

    const explain = (error: unknown): Error => {
      const { code, message } = error as { code?: string; message?: string };
      const detail = password ? String(message).split(password).join("***") : String(message);
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
      connectionString: url.toString(),
      ssl: wantsTls ? { rejectUnauthorized: loopback ? false : sslmode !== "require" } : false,
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
