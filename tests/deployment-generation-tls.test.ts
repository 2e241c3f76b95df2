// DeploymentGeneration's database TLS (#15 item 5): the URL policy as a plain function, then verified TLS
// against a real PostgreSQL server whose certificate chains to a throwaway root CA, standing in for
// Supabase's own root (which Node's trust store does not hold either).
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type DeploymentGenerationInputs,
  deploymentGenerationProvider as provider,
} from "../components/deployment-generation-provider";
import { type TestDatabase, ThrowawayCluster } from "./support/postgres";
import { callSerialized, serializeProvider } from "./support/serialized-provider";
import { skipLoudly } from "./support/skip";
import { certificateAuthority } from "./support/test-ca";

const CA = certificateAuthority("Test Supabase Root 2021 CA");

describe("the deploy database URL policy (pure)", () => {
  const remote = "postgres://deployer:pw@db.abc.supabase.co:5432/postgres";
  const refusal = (url: string) => {
    try {
      provider.connection(url, "");
    } catch (error) {
      expect((error as Error).message).not.toContain("pw@");
      return (error as Error).message;
    }
    throw new Error(`accepted ${url}`);
  };

  it("off loopback, TLS is on and verified, against the configured CA", () => {
    for (const suffix of ["", "?sslmode=require", "?sslmode=verify-ca", "?sslmode=verify-full"]) {
      expect(provider.connection(remote + suffix, CA.certificate).config).toEqual({
        host: "db.abc.supabase.co",
        port: 5432,
        user: "deployer",
        password: "pw",
        database: "postgres",
        ssl: { rejectUnauthorized: true, ca: CA.certificate },
      });
    }
    expect(provider.connection(remote, "").config.ssl).toEqual({ rejectUnauthorized: true });
  });

  it.each(["disable", "allow", "prefer", "no-verify"])("off loopback, refuses sslmode=%s", (mode) => {
    expect(refusal(`${remote}?sslmode=${mode}`)).toBe(
      `deployment database URL for db.abc.supabase.co:5432 has sslmode=${mode}, which skips TLS or its verification; off loopback the certificate is always verified: remove sslmode, and set database.caReference to the server's root CA`,
    );
  });

  it.each([
    ["ssl=0", "ssl"],
    ["host=127.0.0.1", "host"],
    ["host=/var/run/postgresql", "host"],
    ["sslrootcert=/tmp/any.crt", "sslrootcert"],
    ["uselibpqcompat=true&sslmode=require", "uselibpqcompat"],
    ["sslmode=verify-full&ssl=false&options=-c%20x", "ssl, options"],
  ])("refuses the query parameter %s, which pg would let override the URL", (query, names) => {
    expect(refusal(`${remote}?${query}`)).toBe(
      `deployment database URL for db.abc.supabase.co:5432 has query parameter ${names}, which this deploy does not honour (host, port and TLS come from the URL itself): remove it from the item behind database.deployUrlReference`,
    );
  });

  it("refuses what is not a postgres URL with a host, or an unknown sslmode", () => {
    expect(refusal("mysql://u:pw@db:3306/x")).toBe(
      "deployment database URL must start with postgres:// or postgresql://, not mysql://: check database.deployUrlReference",
    );
    expect(refusal("postgres:///spectral")).toBe(
      "deployment database URL has no host: check database.deployUrlReference",
    );
    expect(refusal(`${remote}?sslmode=verify_full`)).toBe(
      "deployment database URL for db.abc.supabase.co:5432 has sslmode=verify_full: use verify-full, or leave it out",
    );
  });

  it("on loopback, follows sslmode: plain by default, unverified for require, verified for verify-full", () => {
    const local = "postgres://u:pw@127.0.0.1:6543/x";
    expect(provider.connection(local, "").config.ssl).toBe(false);
    expect(provider.connection(`${local}?sslmode=require`, "").config.ssl).toEqual({
      rejectUnauthorized: false,
    });
    expect(provider.connection(`${local}?sslmode=verify-full`, CA.certificate).config.ssl).toEqual({
      rejectUnauthorized: true,
      ca: CA.certificate,
    });
    // Only the literal host counts: a name that resolves to 127.0.0.1 is still verified.
    expect(provider.connection("postgres://u:pw@db.internal/x?sslmode=require", "").config.ssl).toEqual({
      rejectUnauthorized: true,
    });
  });
});

/** The machine's own name: not loopback to the policy, yet it reaches this machine. */
const NAME = hostname();
let database: TestDatabase | undefined;
let stop = () => {};
beforeAll(async () => {
  const address = await lookup(NAME).then(
    (found) => found.address,
    () => undefined,
  );
  const started = address
    ? await ThrowawayCluster.start({ tls: { ...CA.issue([NAME]), address } })
    : { skipped: `this machine's name ${NAME} does not resolve` };
  if ("skipped" in started) {
    skipLoudly("DeploymentGeneration over TLS", started.skipped);
    return;
  }
  database = started.database;
  stop = () => started.cluster.stop();
}, 60_000);
afterAll(() => stop());

describe("DeploymentGeneration over verified TLS (real PostgreSQL; a test root CA stands in for Supabase's)", () => {
  beforeEach((context) => {
    if (!database) context.skip("no TLS PostgreSQL server (see the SKIPPED line above)");
  });
  const byName = () => {
    const url = new URL(database?.deployerUrl ?? "postgres://x");
    url.hostname = NAME;
    return url;
  };
  const inputs = (overrides: Partial<DeploymentGenerationInputs>): DeploymentGenerationInputs => ({
    stack: `tls-${process.pid}`,
    service: "app",
    imageDigest: `registry.cloudflare.com/acct/app@sha256:${"a".repeat(64)}`,
    gitSha: "0123456789abcdef0123456789abcdef01234567",
    fingerprint: "f".repeat(64),
    databaseUrl: byName().toString(),
    databaseCa: CA.certificate,
    connectTimeoutSeconds: 5,
    ...overrides,
  });
  const failure = (overrides: Partial<DeploymentGenerationInputs>) =>
    (provider.create?.(inputs(overrides)) ?? Promise.resolve()).then(
      () => "created",
      (error: Error) => error.message,
    );
  const where = () => `${NAME}:${byName().port}`;

  it("allocates a generation over TLS that chains to database.caReference's CA", async () => {
    const created = await provider.create?.(inputs({}));
    expect(created?.outs.generation).toBeGreaterThan(0);
    const url = byName();
    url.searchParams.set("sslmode", "require");
    const again = await provider.create?.(inputs({ databaseUrl: url.toString() }));
    expect(again?.outs.generation).toBeGreaterThan(created?.outs.generation);
    // The server's own record: both connections were TLS.
    const authorized = readFileSync(database?.logFile ?? "", "utf8")
      .split("\n")
      .filter((line) => line.includes("connection authorized: user=spectral_deployer"));
    expect(authorized.length).toBeGreaterThanOrEqual(2);
    for (const line of authorized) expect(line).toMatch(/SSL enabled \(protocol=TLSv1\.[23]/);
  });

  it("refuses the server when only Node's trust store is given, as a real deploy to Supabase would be", async () => {
    expect(await failure({ databaseCa: "" })).toMatch(
      new RegExp(
        `^the deployment database at ${where()} presented a certificate this deploy does not trust \\((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\\); set database.caReference to the 1Password item holding the server's root CA \\(Supabase: Database settings, SSL certificate\\)$`,
      ),
    );
  });

  it("refuses a server whose certificate does not chain to the configured CA", async () => {
    const other = certificateAuthority("Some Other Root CA");
    expect(await failure({ databaseCa: other.certificate })).toMatch(
      new RegExp(
        `^the deployment database at ${where()} presented a certificate that does not chain to the CA in database.caReference \\(\\w+\\); check that the item holds this server's root CA$`,
      ),
    );
  });

  it("refuses a certificate for another name, even from the right CA", async () => {
    const url = byName();
    url.hostname = "localhost";
    url.searchParams.set("sslmode", "verify-full");
    expect(await failure({ databaseUrl: url.toString() })).toBe(
      `the deployment database at localhost:${url.port} presented a certificate that is not for localhost (ERR_TLS_CERT_ALTNAME_INVALID); TLS is verified, so the deploy stops`,
    );
  });

  it("verifies the same way when the engine runs it: serialized, in a fresh Node process", async () => {
    const file = await serializeProvider();
    const created = await callSerialized(file, "create", [inputs({})]);
    expect(created.error).toBe("");
    expect(created.value.outs.generation).toBeGreaterThan(0);
    const refused = await callSerialized(file, "create", [inputs({ databaseCa: "" })]);
    expect(refused.error).toContain("presented a certificate this deploy does not trust");
  });
});
