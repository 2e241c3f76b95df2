import * as pulumi from "@pulumi/pulumi";
import { describe, expect, inject, it } from "vitest";
import { DeploymentGeneration } from "../components/deployment-generation";
import { buildPlan } from "../lib/plan/render";
import { runProgram } from "../lib/plan/run-program";
import { connectionLogMissing, connectionsLogged, probeRoleUrl } from "./support/postgres";

// One scenario: the resource in a preview under the mock runtime, as in `pnpm plan`.
const setup = inject("postgres");
const database = "database" in setup ? setup.database : undefined;

describe.skipIf(!database || connectionLogMissing(database) !== undefined)(
  "DeploymentGeneration in preview (mock runtime)",
  () => {
    it("shows the generation as unknown, keeps the URL secret, and opens no connection", async () => {
      const logFile = database?.logFile ?? "";
      const databaseUrl = await probeRoleUrl(database ?? ({} as never), "preview_probe");
      const before = connectionsLogged(logFile, "preview_probe");
      const run = await runProgram({ stack: "preview", config: {}, preview: true }, async () => {
        const allocated = new DeploymentGeneration("generation", {
          stack: "preview",
          service: "app",
          imageDigest: `sha256:${"a".repeat(64)}`,
          gitSha: "abcdef0",
          fingerprint: "f".repeat(64),
          database: { url: pulumi.secret(databaseUrl) },
        });
        return { generation: allocated.generation };
      });
      const plan = buildPlan("spectral-infra", "preview", run);
      const resource = plan.resources.find((candidate) => candidate.name === "generation");
      expect(resource?.type).toBe("pulumi-nodejs:dynamic/spectral:DeploymentGeneration");
      expect(resource?.inputs).toMatchObject({ databaseUrl: "[secret]", stack: "preview", service: "app" });
      expect(JSON.stringify(plan)).not.toContain("deployer-test-password");
      expect(plan.outputs).toEqual({ generation: "[unknown]" });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(connectionsLogged(logFile, "preview_probe")).toBe(before);
    });
  },
);
