import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client } from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  type DeploymentGenerationInputs,
  type DeploymentGenerationOutputs,
  deploymentGenerationProvider as provider,
} from "../components/deployment-generation-provider";
import {
  applyMigration,
  connectionLogMissing,
  connectionsLogged,
  freeLoopbackPort,
  MIGRATION,
  probeRoleUrl,
} from "./support/postgres";
import { callSerialized, serializeProvider } from "./support/serialized-provider";

const setup = inject("postgres");
const database = "database" in setup ? setup.database : undefined;
const MIGRATION_FILE = "supabase/migrations/20261124000000_core_deployments.sql";

function inputs(overrides: Partial<DeploymentGenerationInputs> = {}): DeploymentGenerationInputs {
  return {
    stack: "test",
    service: "app",
    imageDigest: `registry.cloudflare.com/acct/app@sha256:${"a".repeat(64)}`,
    gitSha: "0123456789abcdef0123456789abcdef01234567",
    fingerprint: "f".repeat(64),
    databaseUrl: database?.deployerUrl ?? "",
    connectTimeoutSeconds: 2,
    ...overrides,
  };
}

async function create(
  overrides: Partial<DeploymentGenerationInputs> = {},
): Promise<DeploymentGenerationOutputs> {
  const created = await provider.create?.(inputs(overrides));
  return created?.outs as DeploymentGenerationOutputs;
}

async function admin<T>(run: (client: Client) => Promise<T>, url = database?.adminUrl): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function failure(overrides: Partial<DeploymentGenerationInputs>): Promise<string> {
  const error = await create(overrides).then(
    () => undefined,
    (thrown: Error) => thrown,
  );
  expect(error).toBeInstanceOf(Error);
  const message = (error as Error).message;
  expect(message).not.toContain("deployer-test-password");
  expect(message).not.toContain("wrong-password");
  return message;
}

describe.skipIf(!database)("DeploymentGeneration against a real PostgreSQL server", () => {
  it("allocates increasing generations, one row each", async () => {
    const stack = `increasing-${process.pid}`;
    const generations = [];
    for (let i = 0; i < 5; i++) generations.push((await create({ stack })).generation);
    expect(generations).toEqual([...generations].sort((a, b) => a - b));
    expect(new Set(generations).size).toBe(5);
    const rows = await admin((client) =>
      client.query(
        "select generation, deployed_by from core.deployments where stack = $1 order by generation",
        [stack],
      ),
    );
    expect(rows.rows.map((row) => Number(row.generation))).toEqual(generations);
    expect(rows.rows[0].deployed_by).not.toBe("");
  });

  it("hands 100 concurrent allocations 100 distinct generations", async () => {
    const outs = await Promise.all(
      Array.from({ length: 100 }, () => create({ stack: `concurrent-${process.pid}` })),
    );
    expect(new Set(outs.map((out) => out.generation)).size).toBe(100);
  });

  it("keeps the URL out of the outputs, and delete keeps the row", async () => {
    const created = await provider.create?.(inputs({ stack: `outputs-${process.pid}` }));
    expect(JSON.stringify(created)).not.toContain("postgres://");
    expect(created?.id).toBe(String(created?.outs.generation));
    await provider.delete?.(created?.id ?? "", created?.outs);
    const count = await admin((client) =>
      client.query("select count(*)::int as n from core.deployments where generation = $1", [
        created?.outs.generation,
      ]),
    );
    expect(count.rows[0].n).toBe(1);
  });

  it("works as the engine runs it: serialized with serializeFunction, in a fresh Node process", async () => {
    const file = await serializeProvider();
    const created = await callSerialized(file, "create", [inputs({ stack: `serialized-${process.pid}` })]);
    expect(created.error).toBe("");
    expect(created.value.outs).toMatchObject({ stack: `serialized-${process.pid}`, service: "app" });
    expect(created.value.outs.generation).toBeGreaterThan(0);
    const unchanged = await callSerialized(file, "diff", [
      created.value.id,
      created.value.outs,
      inputs({ stack: `serialized-${process.pid}` }),
    ]);
    expect(unchanged.value).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
  });

  describe("the least-privilege deploy role", () => {
    const asDeployer = (sql: string) => admin((client) => client.query(sql), database?.deployerUrl);

    it("may insert and read back only the generation", async () => {
      const inserted = await asDeployer(
        `insert into core.deployments (stack, service, image_digest, git_sha, fingerprint, deployed_by)
         values ('role-test', 'app', 'sha256:${"b".repeat(64)}', 'abcdef0', '${"c".repeat(64)}', 'test') returning generation`,
      );
      expect(Number(inserted.rows[0].generation)).toBeGreaterThan(0);
      await expect(asDeployer("select generation from core.deployments limit 1")).resolves.toBeDefined();
    });

    it.each([
      ["read other columns", "select stack from core.deployments limit 1"],
      ["read whole rows", "select * from core.deployments limit 1"],
      ["update", "update core.deployments set stack = 'x'"],
      ["delete", "delete from core.deployments"],
      ["truncate", "truncate core.deployments"],
      ["create tables in core", "create table core.sneaky (id int)"],
    ])("may not %s", async (_what, sql) => {
      await expect(asDeployer(sql)).rejects.toMatchObject({ code: "42501" });
    });

    it("may not choose its own generation", async () => {
      await expect(
        asDeployer(
          `insert into core.deployments (generation, stack, service, image_digest, git_sha, fingerprint, deployed_by)
           values (1, 's', 'app', 'sha256:${"b".repeat(64)}', 'abcdef0', '${"c".repeat(64)}', 'x')`,
        ),
      ).rejects.toMatchObject({ code: expect.stringMatching(/^(42501|428C9)$/) });
    });
  });

  describe("preview and no-op runs", () => {
    it("a no-op second run allocates nothing: diff with the same inputs has no changes", async () => {
      const outs = await create({ stack: `noop-${process.pid}` });
      const same = await provider.diff?.(
        String(outs.generation),
        outs,
        inputs({ stack: `noop-${process.pid}` }),
      );
      expect(same).toEqual({ changes: false, replaces: [], deleteBeforeReplace: false });
      // A new URL or timeout is how we reach the database, not what we deploy.
      const moved = await provider.diff?.(
        String(outs.generation),
        outs,
        inputs({
          stack: `noop-${process.pid}`,
          databaseUrl: "postgres://elsewhere/db",
          connectTimeoutSeconds: 30,
        }),
      );
      expect(moved?.changes).toBe(false);
    });

    it("any change to the deploy inputs replaces the resource, allocating a new, larger generation", async () => {
      const stack = `replace-${process.pid}`;
      const first = await create({ stack });
      for (const change of [
        { fingerprint: "e".repeat(64) },
        { imageDigest: `sha256:${"d".repeat(64)}` },
        { gitSha: "abcdef1" },
      ]) {
        const diff = await provider.diff?.(String(first.generation), first, inputs({ stack, ...change }));
        expect(diff).toEqual({ changes: true, replaces: Object.keys(change), deleteBeforeReplace: false });
      }
      expect((await create({ stack, fingerprint: "e".repeat(64) })).generation).toBeGreaterThan(
        first.generation,
      );
    });

    it.skipIf(connectionLogMissing(database) !== undefined)(
      "preview opens no connection: the engine's preview calls only diff (counted in the server's log)",
      async () => {
        const logFile = database?.logFile ?? "";
        const databaseUrl = await probeRoleUrl(database ?? ({} as never), "diff_probe");
        const stack = `preview-${process.pid}`;
        const before = connectionsLogged(logFile, "diff_probe");
        const file = await serializeProvider();
        const olds = await create({ stack, databaseUrl });
        const afterCreate = connectionsLogged(logFile, "diff_probe");
        expect(afterCreate).toBe(before + 1);
        await callSerialized(file, "diff", [
          String(olds.generation),
          olds,
          inputs({ stack, databaseUrl, fingerprint: "9".repeat(64) }),
        ]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(connectionsLogged(logFile, "diff_probe")).toBe(afterCreate);
      },
    );
  });

  describe("the URL read from 1Password by the provider (1Password SDK double), never held in state", () => {
    const REFERENCE = "op://spectral-alpha-deploy/deploy-database/url";
    /** Stands in for the SDK's createClient: answers REFERENCE, and fails others as the SDK does. */
    const doubleSource = (url: string) => `
      const sdk = require(require.resolve("@1password/sdk", { paths: [${JSON.stringify(process.cwd())}] }));
      Object.defineProperty(sdk, "createClient", {
        configurable: true,
        value: async ({ auth }) => {
          if (auth !== "ops_test-token") throw new Error("invalid service account token");
          return { secrets: { resolve: async (reference) => {
            if (reference === ${JSON.stringify(REFERENCE)}) return ${JSON.stringify(url)};
            throw new Error("error resolving secret reference: the specified item could not be found");
          } } };
        },
      });`;
    const preload = () => {
      const file = join(mkdtempSync(join(tmpdir(), "op-double-")), "op-double.js");
      writeFileSync(file, doubleSource(database?.deployerUrl ?? ""));
      return file;
    };

    it("allocates with only the reference as input; the URL is in neither inputs nor outputs", async () => {
      const file = await serializeProvider();
      const byReference = { ...inputs({ stack: `reference-${process.pid}` }), databaseUrl: undefined };
      const created = await callSerialized(
        file,
        "create",
        [{ ...byReference, databaseUrlReference: REFERENCE }],
        {
          NODE_OPTIONS: `--require ${preload()}`,
          OP_SERVICE_ACCOUNT_TOKEN: "ops_test-token",
        },
      );
      expect(created.error).toBe("");
      expect(created.value.outs.generation).toBeGreaterThan(0);
      expect(JSON.stringify(created.value)).not.toContain("deployer-test-password");
    });

    it("names the reference, never the token, when 1Password cannot answer, and says when the token is missing", async () => {
      const file = await serializeProvider();
      const call = (reference: string, env: Record<string, string>) =>
        callSerialized(
          file,
          "create",
          [{ ...inputs({}), databaseUrl: undefined, databaseUrlReference: reference }],
          { NODE_OPTIONS: `--require ${preload()}`, ...env },
        );
      const missing = await call("op://spectral-alpha-deploy/gone/url", {
        OP_SERVICE_ACCOUNT_TOKEN: "ops_test-token",
      });
      expect(missing.error).toBe(
        "1Password could not resolve database.deployUrlReference (op://spectral-alpha-deploy/gone/url): error resolving secret reference: the specified item could not be found; check that the deploy's service account can read that vault and that this machine reaches 1Password",
      );
      const wrongToken = await call(REFERENCE, { OP_SERVICE_ACCOUNT_TOKEN: "ops_wrong-token-canary" });
      expect(wrongToken.error).toContain("invalid service account token");
      expect(wrongToken.error).not.toContain("ops_wrong-token-canary");
      const noToken = await call(REFERENCE, { OP_SERVICE_ACCOUNT_TOKEN: "" });
      expect(noToken.error).toBe(
        `OP_SERVICE_ACCOUNT_TOKEN is not set: reading database.deployUrlReference (${REFERENCE}) needs the deploy's 1Password service-account token`,
      );
    });
  });

  describe("errors an operator can act on", () => {
    let silent: Server;
    let silentPort: number;
    beforeAll(async () => {
      // Accepts connections and never answers: the connect timeout has to fire.
      silent = createServer(() => undefined);
      await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
      silentPort = (silent.address() as { port: number }).port;
    });
    afterAll(() => silent.close());

    const url = (change: (url: URL) => void) => {
      const parsed = new URL(database?.deployerUrl ?? "");
      change(parsed);
      return parsed.toString();
    };

    it("database unreachable: names host and port, after the timeout", async () => {
      const port = await freeLoopbackPort();
      expect(await failure({ databaseUrl: url((u) => (u.port = String(port))) })).toBe(
        `deployment database unreachable at 127.0.0.1:${port} (gave up after 2s: ECONNREFUSED); check the host and port in the URL and that this machine may connect`,
      );
      const started = Date.now();
      const message = await failure({
        databaseUrl: url((u) => (u.port = String(silentPort))),
        connectTimeoutSeconds: 1,
      });
      expect(message).toMatch(
        new RegExp(`^deployment database unreachable at 127\\.0\\.0\\.1:${silentPort} \\(gave up after 1s: `),
      );
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    });

    it("authentication failed: names the role, not the password", async () => {
      const message = await failure({ databaseUrl: url((u) => (u.password = "wrong-password")) });
      expect(message).toMatch(
        /^deployment database at 127\.0\.0\.1:\d+ rejected role spectral_deployer: authentication failed; check the password/,
      );
    });

    it("schema or table missing: says which migration to apply", async () => {
      await admin(async (client) => {
        await client.query("drop database if exists unmigrated");
        await client.query("create database unmigrated");
      });
      const message = await failure({ databaseUrl: url((u) => (u.pathname = "/unmigrated")) });
      expect(message).toMatch(
        /^core\.deployments does not exist in the deployment database at 127\.0\.0\.1:\d+: apply migration /,
      );
      expect(message.endsWith(MIGRATION_FILE)).toBe(true);
      expect(MIGRATION.endsWith(MIGRATION_FILE)).toBe(true);
    });

    it("a lock held on core.deployments: says so after the 15 s statement timeout, not that the database is unreachable", async () => {
      // Its own database, so the lock holds up no other test's allocation.
      await admin(async (client) => {
        await client.query("drop database if exists lockheld");
        await client.query("create database lockheld");
      });
      const lockheld = url((u) => (u.pathname = "/lockheld"));
      const adminLockheld = new URL(database?.adminUrl ?? "");
      adminLockheld.pathname = "/lockheld";
      await applyMigration(adminLockheld.toString());
      const holder = new Client({ connectionString: adminLockheld.toString() });
      await holder.connect();
      try {
        await holder.query("begin; lock table core.deployments in access exclusive mode");
        expect(await failure({ databaseUrl: lockheld })).toMatch(
          /^the deployment database at 127\.0\.0\.1:\d+ did not allocate a generation within 15s \(statement timeout, 57014\): a session is holding a lock on core\.deployments; find it in pg_stat_activity and end it, then run pulumi up again$/,
        );
      } finally {
        await holder.end();
      }
    }, 30_000);

    it("permission denied: names the grant needed", async () => {
      await admin(async (client) => {
        await client.query("drop role if exists ungranted");
        await client.query("create role ungranted login password 'ungranted-pw'");
        await client.query("grant usage on schema core to ungranted");
      });
      const message = await failure({
        databaseUrl: url((u) => {
          u.username = "ungranted";
          u.password = "ungranted-pw";
        }),
      });
      expect(message).toBe(
        `role ungranted may not allocate generations: grant USAGE on schema core, INSERT (stack, service, image_digest, git_sha, fingerprint, deployed_by) and SELECT (generation) on core.deployments, as migration ${MIGRATION_FILE} does`,
      );
    });

    it("TLS required but not offered", async () => {
      const message = await failure({ databaseUrl: url((u) => u.searchParams.set("sslmode", "require")) });
      expect(message).toMatch(
        /^TLS is required for the deployment database at 127\.0\.0\.1:\d+, but the server does not offer it; enable TLS on the server$/,
      );
      // A remote host may not opt out of TLS; this fails before any connection is attempted.
      expect(
        await failure({ databaseUrl: "postgres://u:secret-pw@db.example.invalid:5432/x?sslmode=disable" }),
      ).toBe(
        "deployment database URL for db.example.invalid:5432 has sslmode=disable, which skips TLS or its verification; off loopback the certificate is always verified: remove sslmode, and set database.caReference to the server's root CA",
      );
    });
  });
});
