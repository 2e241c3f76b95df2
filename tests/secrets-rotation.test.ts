import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseStackConfig } from "../lib/config";
import { deploymentFingerprint } from "../lib/deploy/fingerprint";
import { workerSecretBindings } from "../lib/secrets/bindings";
import { alphaConfig, REPO_ROOT, stackFileText } from "./support/alpha";
import { devStackEnv, openSealed, recordRun } from "./support/record";

const manifest = parseStackConfig(alphaConfig()).secrets;
const dir = mkdtempSync(join(tmpdir(), "rotation-"));
const stackFile = join(dir, "Pulumi.rotation.yaml");
copyFileSync(join(REPO_ROOT, "Pulumi.alpha.yaml"), stackFile);

/** Distinctive values, so any leak is easy to spot in captured output. */
function secretsFile(
  name: string,
  overrides: Record<string, string> = {},
): { file: string; values: Record<string, string> } {
  const values = Object.fromEntries(
    manifest.map((entry) => [entry.name, `leak-canary-${entry.name.toLowerCase()}-v1`]),
  );
  Object.assign(values, overrides);
  const file = join(dir, `${name}.env`);
  const deployUrl = "postgres://deployer:leak-canary-db-password@db.internal:5432/spectral";
  writeFileSync(
    file,
    `${Object.entries({
      ...values,
      DEPLOY_DATABASE_URL: deployUrl,
      DEPLOY_DIGEST_KEY: "rotation-test-digest-key-000000000",
      DEPLOY_SEAL_KEY: "rotation-test-seal-key-00000000000",
    })
      .map(([k, v]) => `${k}=${v}`)
      .join("\n")}\n`,
  );
  return { file, values };
}

function run(file: string) {
  const recorded = recordRun({ RECORD_STACK_FILE: stackFile, ...devStackEnv({}, file) });
  expect(recorded.stderr).toBe("");
  expect(recorded.status).toBe(0);
  return recorded;
}

describe("rotating one secret (two program runs under mocks, local secrets file)", () => {
  const before = secretsFile("before");
  const after = secretsFile("after", { SENTRY_DSN: "leak-canary-sentry_dsn-v2" });
  const first = run(before.file);
  const second = run(after.file);

  it("changes only that secret's GitHub Environment secret, the generation's fingerprint and the Worker's binding of it", async () => {
    expect(second.resources.map((r) => r.urn)).toEqual(first.resources.map((r) => r.urn));
    // Push credentials are fresh on every update; the docker provider does not diff them.
    const compared = ({ registry: _credentials, ...inputs }: Record<string, unknown>) =>
      JSON.stringify(inputs);
    const changed = first.resources
      .filter((resource, i) => compared(resource.inputs) !== compared(second.resources[i].inputs))
      .map((resource) => resource.name);
    // A new Worker upload (its SENTRY_DSN binding) and a new generation, which restarts the containers.
    expect(changed).toEqual(["SENTRY_DSN", "app-generation", "app-worker-script"]);
    const [scriptBefore, scriptAfter] = [first, second].map(
      (recorded) =>
        recorded.resources.find((resource) => resource.name === "app-worker-script")?.inputs ?? {},
    );
    const changedInputs = Object.keys(scriptAfter).filter(
      (key) => JSON.stringify(scriptAfter[key]) !== JSON.stringify(scriptBefore[key]),
    );
    expect(changedInputs.sort()).toEqual(["bindings", "secret_SENTRY_DSN"]);
    // In the binding list, only SENTRY_DSN's digest moved: the plan names the binding, not the value.
    type Listed = { name: string; digest?: string };
    const [listBefore, listAfter] = [scriptBefore, scriptAfter].map((inputs) => inputs.bindings as Listed[]);
    const moved = listAfter.filter((binding, i) => JSON.stringify(binding) !== JSON.stringify(listBefore[i]));
    expect(moved.map((binding) => binding.name)).toEqual(["SENTRY_DSN"]);
    expect(JSON.stringify(listAfter)).not.toContain("leak-canary");
    const generations = [first, second].map(
      (recorded) => recorded.resources.find((resource) => resource.name === "app-generation")?.inputs,
    );
    expect({ ...generations[1], fingerprint: undefined }).toEqual({
      ...generations[0],
      fingerprint: undefined,
    });
    // GitHub receives the new value sealed to its key; state holds only the sealed text.
    const sentry = second.resources.find((resource) => resource.name === "SENTRY_DSN")?.inputs as {
      valueEncrypted: { secret: string };
    };
    expect(await openSealed(second, sentry.valueEncrypted.secret)).toBe("leak-canary-sentry_dsn-v2");
  });

  it("changes only that secret's Worker binding, and the deployment fingerprint", () => {
    const bindingsBefore = workerSecretBindings(manifest, before.values);
    const bindingsAfter = workerSecretBindings(manifest, after.values);
    const changed = bindingsBefore
      .filter((binding, i) => JSON.stringify(binding) !== JSON.stringify(bindingsAfter[i]))
      .map((binding) => binding.name);
    expect(changed).toEqual(["SENTRY_DSN"]);
    const settings = { instanceType: "standard-1", maxInstances: 3, sleepAfter: "10m" };
    const key = "rotation-test-digest-key-000000000";
    expect(deploymentFingerprint(bindingsAfter, settings, key)).not.toBe(
      deploymentFingerprint(bindingsBefore, settings, key),
    );
  });

  it("keeps every secret value out of the plan's output and the program's logs", () => {
    for (const recorded of [first, second]) {
      // Outputs and process output: names only.
      expect(JSON.stringify(recorded.outputs)).not.toContain("leak-canary");
      expect(recorded.stderr).not.toContain("leak-canary");
      // Every input that carries a value is marked secret for the engine (so state encrypts it).
      for (const resource of recorded.resources) {
        for (const [key, value] of Object.entries(resource.inputs)) {
          if (JSON.stringify(value).includes("leak-canary"))
            expect({ key, value }).toEqual({ key, value: { secret: expect.anything() } });
        }
      }
    }
  });
});

describe("a secret that does not fit", () => {
  it("fails the run naming the secret, never its value", () => {
    const { file } = secretsFile("too-big", { STRIPE_SECRET_KEY: `leak-canary-${"x".repeat(6000)}` });
    const recorded = recordRun({ RECORD_STACK_FILE: stackFile, ...devStackEnv({}, file) });
    expect(recorded.status).toBe(1);
    expect(recorded.stdout).toBe("");
    expect(recorded.stderr.trimEnd().split("\n")).toEqual([
      `record-run: secrets from local file ${file} do not fit their targets:`,
      "  STRIPE_SECRET_KEY: is 6012 bytes; a Worker secret binding holds about 5 KB (5120 bytes): shrink it or keep it out of the container",
    ]);
  });
});

describe("renaming or removing a GitHub-targeted secret", () => {
  function runWithManifest(name: string, change: (entries: Record<string, unknown>[]) => void) {
    const stack = parse(readFileSync(stackFile, "utf8"));
    change(stack.config["spectral-infra:secrets"]);
    const file = join(dir, `Pulumi.${name}.yaml`);
    writeFileSync(file, stackFileText(stack));
    const entries = stack.config["spectral-infra:secrets"] as { name: string }[];
    const secrets = secretsFile(name, Object.fromEntries(entries.map((entry) => [entry.name, "renamed"])));
    const recorded = recordRun({ RECORD_STACK_FILE: file, ...devStackEnv({}, secrets.file) });
    expect(recorded.stderr).toBe("");
    return recorded.resources
      .filter((resource) => resource.type.endsWith("ActionsEnvironmentSecret"))
      .map((resource) => resource.urn.split("::").pop());
  }
  const baseline = runWithManifest("renamebase", () => {});

  it("a rename swaps exactly that secret's resource: the old GitHub secret is deleted, the rest untouched", () => {
    const renamed = runWithManifest("renamed", (entries) => {
      entries[5].name = "SENTRY_URL";
    });
    expect(baseline.filter((name) => !renamed.includes(name))).toEqual(["SENTRY_DSN"]);
    expect(renamed.filter((name) => !baseline.includes(name))).toEqual(["SENTRY_URL"]);
  });

  it("a change of case is no change, since GitHub compares names ignoring case", () => {
    expect(
      runWithManifest("recased", (entries) => {
        entries[5].name = "Sentry_Dsn";
      }),
    ).toEqual(baseline);
  });

  it("a removal drops exactly that secret's resource", () => {
    const removed = runWithManifest("removed", (entries) => {
      entries.splice(8, 1);
    });
    expect(baseline.filter((name) => !removed.includes(name))).toEqual(["CLOUDFLARE_API_TOKEN"]);
  });
});
