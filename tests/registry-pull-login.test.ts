// scripts/registry-pull-login.ts, which deploy.yml runs so the SBOM is read from the pushed digest: against
// the contract-faithful Cloudflare API stand-in (tests/support/fake-cloudflare.ts).
import { execFile } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/alpha";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "./support/fake-cloudflare";

const DIGEST = `registry.cloudflare.com/0000000000000000000000000000a1fa/spectral-alpha-app@sha256:${"c".repeat(64)}`;
let cloudflare: FakeCloudflare;
beforeAll(async () => {
  cloudflare = await startFakeCloudflare();
});
afterAll(() => cloudflare.close());

/** Asynchronous, so the stand-in in this process can answer. */
function login(
  args: string[],
  token = FAKE_TOKEN,
): Promise<{ status: number; stdout: string; stderr: string }> {
  const script = ["--require", require.resolve("tsx/cjs"), "scripts/registry-pull-login.ts", ...args];
  const env = {
    ...process.env,
    GITHUB_OUTPUT: "",
    CLOUDFLARE_API_TOKEN: token,
    CLOUDFLARE_API_BASE_URL: cloudflare.baseUrl,
  };
  return new Promise((resolve) => {
    execFile(process.execPath, script, { cwd: REPO_ROOT, encoding: "utf8", env }, (error, stdout, stderr) =>
      resolve({ status: error ? Number(error.code) : 0, stdout, stderr }),
    );
  });
}

describe("registry-pull-login (Cloudflare API stand-in)", () => {
  it("asks for pull-only credentials for 10 minutes and masks the password before printing it", async () => {
    const run = await login([DIGEST]);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const password = cloudflare.issuedPasswords.at(-1) ?? "";
    expect(run.stdout.split("\n")).toEqual([
      `::add-mask::${password}`,
      "server=registry.cloudflare.com",
      expect.stringMatching(/^username=.+/),
      `password=${password}`,
      "",
    ]);
    expect(cloudflare.requests.at(-1)).toMatchObject({
      method: "POST",
      path: "/client/v4/accounts/0000000000000000000000000000a1fa/containers/registries/registry.cloudflare.com/credentials",
      body: { expiration_minutes: 10, permissions: ["pull"] },
    });
  });

  it.each([[[]], [["spectral-alpha-app:abc123"]], [[DIGEST, "extra"]]])(
    "refuses %j with one line and exit 2",
    async (args) => {
      const run = await login(args);
      expect(run.status).toBe(2);
      expect(run.stderr).toMatch(
        /^registry-pull-login: expected one argument, the deployed image's digest reference .*\n$/,
      );
    },
  );

  it("names Cloudflare's refusal of the token, never the token", async () => {
    const run = await login([DIGEST], "wrong-token-canary");
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(
      /^registry-pull-login: the SBOM's pull login: getting pull credentials for registry\.cloudflare\.com\/0{28}a1fa failed: the Cloudflare API at 127\.0\.0\.1:\d+ answered 403 \(code 10000: Authentication error\)\. Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission Account > Containers > Edit on account 0{28}a1fa \(Cloudflare dashboard: My Profile > API Tokens\), then run pulumi up again\.\n$/,
    );
    expect(run.stderr).not.toContain("wrong-token-canary");
  });
});
