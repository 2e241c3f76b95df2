// AppImage under the mock runtime, with Cloudflare's registry-credentials API as a contract-faithful local server.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isUnknownValue } from "../lib/plan/mock-runtime";
import { REPO_ROOT } from "./support/alpha";
import { devStackEnv, type RecordedRun, recordRun, registered } from "./support/record";

const IMAGE = "docker:index/image:Image";
const GENERATION = "pulumi-nodejs:dynamic/spectral:DeploymentGeneration";
const REPOSITORY = "registry.cloudflare.com/0000000000000000000000000000a1fa/spectral-alpha-app";

const resource = (recorded: RecordedRun, type: string) => registered(recorded, type).inputs;
const versionJson = () => JSON.parse(readFileSync(join(REPO_ROOT, "infra/docker/version.json"), "utf8"));

/** A dev stack's local secrets: this file is about the image, not 1Password. */
const run = (env: Record<string, string>, cwd?: string) => recordRun({ ...devStackEnv(), ...env }, cwd);

const clones: string[] = [];
afterAll(() => {
  for (const clone of clones) rmSync(clone, { recursive: true, force: true });
});

function cleanClone(): string {
  const clone = mkdtempSync(join(tmpdir(), "app-image-"));
  clones.push(clone);
  execFileSync("git", ["clone", "--quiet", REPO_ROOT, clone]);
  // The program bundles the Worker from the checkout it runs in; node_modules is gitignored.
  symlinkSync(join(REPO_ROOT, "node_modules"), join(clone, "node_modules"));
  return clone;
}

describe("preview (mock runtime, fake Cloudflare API)", () => {
  let recorded: RecordedRun;
  beforeAll(() => {
    recorded = run({ RECORD_PREVIEW: "true" });
  });

  it("declares a linux/amd64 BuildKit build of app.Dockerfile with the repository root as context", () => {
    expect(recorded.status, recorded.stderr).toBe(0);
    expect(resource(recorded, IMAGE).build).toEqual({
      context: ".",
      dockerfile: "infra/docker/app.Dockerfile",
      platform: "linux/amd64",
      builderVersion: "BuilderBuildKit",
    });
  });

  it("tags the image with the commit's short sha from version.json, which build-version.sh wrote", () => {
    const { short_sha: shortSha, describe: described } = versionJson();
    const suffix = described.endsWith("-dirty") ? "-dirty" : "";
    expect(resource(recorded, IMAGE).imageName).toBe(`${REPOSITORY}:${shortSha}${suffix}`);
    expect(recorded.outputs.imageName).toBe(`${REPOSITORY}:${shortSha}${suffix}`);
  });

  it("asks Cloudflare for nothing, builds nothing and leaves digest and generation unknown", () => {
    expect(recorded.cloudflareRequests).toEqual([]);
    expect(resource(recorded, IMAGE).buildOnPreview).toBe(false);
    expect(resource(recorded, IMAGE).registry).toEqual({
      secret: {
        server: "registry.cloudflare.com",
        username: "not-requested-in-preview",
        password: "not-requested-in-preview",
      },
    });
    expect(isUnknownValue(recorded.outputs.imageDigest)).toBe(true);
    expect(isUnknownValue(recorded.outputs.generation)).toBe(true);
  });
});

describe("update (mock runtime, fake Cloudflare API)", () => {
  let recorded: RecordedRun;
  beforeAll(() => {
    recorded = run({});
  });

  it("requests short-lived push credentials once, with the documented body", () => {
    expect(recorded.status, recorded.stderr).toBe(0);
    // One request, with this body (toMatchObject checks an array's length).
    expect(recorded.cloudflareRequests).toMatchObject([
      {
        method: "POST",
        path: "/client/v4/accounts/0000000000000000000000000000a1fa/containers/registries/registry.cloudflare.com/credentials",
        body: { expiration_minutes: 60, permissions: ["push", "pull"] },
      },
    ]);
  });

  it("hands the credentials to the docker provider as secrets, and nowhere else", () => {
    const [password] = recorded.issuedPasswords;
    expect(resource(recorded, IMAGE).registry).toEqual({
      secret: { server: "registry.cloudflare.com", username: "v1", password },
    });
    const elsewhere = JSON.stringify({
      outputs: recorded.outputs,
      others: recorded.resources.filter((each) => each.type !== IMAGE),
    });
    expect(elsewhere).not.toContain(password);
    expect(recorded.stderr).not.toContain(password);
  });

  it("feeds the image's digest (the mock docker Image's, not a push) and the commit to the deployment generation", () => {
    const generation = resource(recorded, GENERATION);
    expect(generation.imageDigest).toBe(recorded.outputs.imageDigest);
    expect(String(recorded.outputs.imageDigest)).toMatch(new RegExp(`^${REPOSITORY}@sha256:[0-9a-f]{64}$`));
    expect(generation.gitSha).toBe(versionJson().sha);
  });

  it("gives the docker provider identical build inputs for the same commit (no rebuild, no push)", () => {
    const stamped = readFileSync(join(REPO_ROOT, "infra/docker/version.json"));
    const again = run({});
    const { registry: _first, ...firstInputs } = resource(recorded, IMAGE);
    const { registry: _second, ...secondInputs } = resource(again, IMAGE);
    expect(secondInputs).toEqual(firstInputs);
    expect(readFileSync(join(REPO_ROOT, "infra/docker/version.json"))).toEqual(stamped);
  });
});

describe("update refusals", () => {
  it("tags a clean checkout with its commit's short sha", () => {
    const clone = cleanClone();
    const recorded = run({ SPECTRAL_ALLOW_DIRTY_IMAGE: "" }, clone);
    expect(recorded.status, recorded.stderr).toBe(0);
    const shortSha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: clone,
      encoding: "utf8",
    }).trim();
    expect(recorded.outputs.imageName).toBe(`${REPOSITORY}:${shortSha}`);
  });

  it("refuses a dirty checkout, whose image the commit's tag would misname, and says how to proceed", () => {
    const clone = cleanClone();
    appendFileSync(join(clone, "README.md"), "\nuncommitted\n");
    const recorded = run({ SPECTRAL_ALLOW_DIRTY_IMAGE: "" }, clone);
    expect(recorded.status).not.toBe(0);
    expect(recorded.stderr).toMatch(
      /the checkout has uncommitted changes \([0-9a-f]{12}-dirty\).*commit or stash them/,
    );
    expect(recorded.stderr).not.toMatch(/\n\s+at /);
  });

  it("reports Cloudflare's error code and message when the token is refused, without the token", () => {
    const recorded = run({ CLOUDFLARE_API_TOKEN: "wrong-token-canary" });
    expect(recorded.status).not.toBe(0);
    expect(recorded.stderr).toContain(
      "AppImage spectral-alpha-app: getting push/pull credentials for registry.cloudflare.com/0000000000000000000000000000a1fa failed: the Cloudflare API at 127.0.0.1:",
    );
    expect(recorded.stderr).toContain(
      "answered 403 (code 10000: Authentication error). Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission Account > Containers > Edit",
    );
    expect(recorded.stderr).not.toContain("wrong-token-canary");
  });

  it("names CLOUDFLARE_API_TOKEN when it is missing", () => {
    const recorded = run({ CLOUDFLARE_API_TOKEN: "" });
    expect(recorded.status).not.toBe(0);
    expect(recorded.stderr).toContain("CLOUDFLARE_API_TOKEN is not set");
  });
});
