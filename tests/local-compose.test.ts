// The local compose flow's pure parts (lib/local/compose.ts); the flow itself runs for real in
// tests/containers/local-compose.test.ts.
import { describe, expect, it } from "vitest";
import { composeArgs, hostDatabases, parseEnvFile, publishedPorts } from "../lib/local/compose";

describe("local compose", () => {
  it("reads an env file as compose does: comments and blanks skipped, export and quotes removed", () => {
    const env = parseEnvFile("# note\n\nexport A=1\nB = \"two words\"\nC='3'\nD=\n  # E=5\n");
    expect([...env]).toEqual([
      ["A", "1"],
      ["B", "two words"],
      ["C", "3"],
      ["D", ""],
    ]);
  });

  it("checks only the database URLs that point at the host, on their port (5432 when none is given)", () => {
    const env = new Map([
      ["API_DATABASE_URL", "postgresql://u:p@host.docker.internal:54322/postgres"],
      ["WORKERS_DATABASE_URL", "postgresql://u:p@host.docker.internal/postgres"],
      ["REMOTE_DATABASE_URL", "postgresql://u:p@db.example.com:6543/postgres"],
      ["SENTRY_DSN", "not a url"],
    ]);
    expect(hostDatabases(env)).toEqual([
      { key: "API_DATABASE_URL", port: 54322 },
      { key: "WORKERS_DATABASE_URL", port: 5432 },
    ]);
  });

  it("names the key of a database URL that does not parse, without echoing its value", () => {
    const secret = "postgres://user:hunter2@";
    expect(() => hostDatabases(new Map([["API_DATABASE_URL", `${secret} oops`]]))).toThrow(
      "infra/local/.env: API_DATABASE_URL is not a URL; write it as postgresql://user:password@host:port/db.",
    );
    try {
      hostDatabases(new Map([["API_DATABASE_URL", `${secret} oops`]]));
    } catch (error) {
      expect((error as Error).message).not.toContain("hunter2");
    }
  });

  it("lists published ports per service from compose's JSON config", () => {
    const config = {
      services: {
        api: { ports: [{ published: "8000" }] },
        workers: {},
        dashboard: { ports: [{ target: 3000 }] },
      },
    };
    expect([...publishedPorts(config)]).toEqual([["api", [8000]]]);
  });

  it("runs every command on the one compose file, with the frontend profile only when asked", () => {
    expect(composeArgs("up", false)).toEqual([
      "compose",
      "-f",
      "infra/local/compose.yml",
      "up",
      "--build",
      "--detach",
      "--wait",
    ]);
    expect(composeArgs("down", true)).toEqual([
      "compose",
      "-f",
      "infra/local/compose.yml",
      "--profile",
      "frontend",
      "down",
      "--volumes",
      "--remove-orphans",
    ]);
  });
});
