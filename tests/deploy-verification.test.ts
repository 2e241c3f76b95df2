// DeployVerification's provider on its own, against a local Worker stand-in whose /health and cutover status
// the test scripts (the engine suite runs it against the Worker in workerd).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeployVerificationInputs,
  type DeployVerificationOutputs,
  deployVerificationProvider as provider,
} from "../components/deploy-verification-provider";
import { CUTOVER_STATUS_PATH, type InstanceStatus } from "../worker/src/cutover";

let server: Server;
let served: { status: number; generation: string; sha: string } = {
  status: 200,
  generation: "7",
  sha: "abc1234",
};
/** What the Worker's cutover status reports; every instance current by default. */
let instances: InstanceStatus[] | undefined;
let inputs: DeployVerificationInputs;
const STATUS_PATH = CUTOVER_STATUS_PATH;

beforeAll(async () => {
  process.env.SPECTRAL_VERIFY_POLL_MS = "20";
  server = createServer((request, response) => {
    const json = (status: number, body: unknown) =>
      response.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
    if (request.url === STATUS_PATH) {
      json(200, {
        instances: instances ?? [
          { instance: "instance-0", serving: { generation: "7", gitSha: "abc1234" }, failed: null },
        ],
      });
      return;
    }
    json(served.status, { generation: served.generation, build: { sha: served.sha } });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  inputs = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    generation: 7,
    gitSha: "abc1234",
    image: "registry.cloudflare.com/a/app@sha256:1",
    timeoutSeconds: 1,
    statusPath: STATUS_PATH,
  };
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

describe("DeployVerification provider", () => {
  it("passes once /health reports this generation of this commit, and outputs the serving generation", async () => {
    served = { status: 503, generation: "6", sha: "old0000" };
    setTimeout(() => {
      served = { status: 200, generation: "7", sha: "abc1234" };
    }, 200);
    expect((await provider.verify(inputs)).servingGeneration).toBe(7);
  });

  it("fails after the timeout, saying what was served instead and what to check", async () => {
    served = { status: 200, generation: "6", sha: "old0000" };
    await expect(provider.verify(inputs)).rejects.toThrow(
      `deploy not verified: ${inputs.url}/health served generation 6 of commit old0000 for 1s (cloudflare.verifyTimeoutSeconds), not generation 7 of commit abc1234. Check the Worker's logs`,
    );
    served = { status: 502, generation: "7", sha: "abc1234" };
    await expect(provider.verify(inputs)).rejects.toThrow("served no healthy answer (last: answered 502)");
  });

  it("waits for every instance to serve this generation of this commit before it asks /health", async () => {
    served = { status: 200, generation: "7", sha: "abc1234" };
    instances = [
      { instance: "instance-0", serving: { generation: "7", gitSha: "abc1234" }, failed: null },
      { instance: "instance-1", serving: { generation: "6", gitSha: "abc1234" }, failed: null },
    ];
    await expect(provider.verify(inputs)).rejects.toThrow(
      `deploy not verified: for 1s (cloudflare.verifyTimeoutSeconds), ${inputs.url}${STATUS_PATH} showed 1 instance(s) not serving generation 7 of commit abc1234 (instance-1: generation 6 of commit abc1234). Check the Worker's logs`,
    );
    setTimeout(() => {
      instances = undefined;
    }, 200);
    expect((await provider.verify(inputs)).servingGeneration).toBe(7);
  });

  it("fails at once when an instance reports this generation did not start, naming it, the reason and what still serves", async () => {
    const started = Date.now();
    instances = [
      {
        instance: "instance-0",
        serving: { generation: "6", gitSha: "old0000" },
        failed: { generation: "7", reason: "/health did not answer 200 within 90 s (last: HTTP 500)" },
      },
    ];
    await expect(provider.verify({ ...inputs, timeoutSeconds: 30 })).rejects.toThrow(
      "DeployVerification: generation 7 did not start on instance-0: /health did not answer 200 within 90 s (last: HTTP 500). Generation 6 still serves there: no request went to the new one. Fix what the container's log for generation 7 shows, then run pulumi up again (a new generation starts clean)",
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    // A failure of an older generation is not this deploy's.
    instances = [{ ...instances[0], failed: { generation: "5", reason: "old" } }];
    await expect(provider.verify(inputs)).rejects.toThrow("1 instance(s) not serving generation 7");
    instances = undefined;
  });

  it("reports what /health last served, not the probe the deadline cut short", async () => {
    // A login page that takes 300 ms: the last probe before the 1 s limit has less than that left.
    const slow = createServer((_request, response) => {
      setTimeout(
        () => response.writeHead(200, { "content-type": "text/html" }).end("<html>Sign in</html>"),
        300,
      );
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(slow.address() as AddressInfo).port}`;
      await expect(
        provider.verify({ ...inputs, url, callLimits: { requestTimeoutSeconds: 1, retryBudgetSeconds: 0 } }),
      ).rejects.toThrow(
        "served no healthy answer (last: answered HTML where JSON was expected (a proxy or login page?))",
      );
    } finally {
      await new Promise((resolve) => slow.close(resolve));
    }
  });

  it("runs again only when the generation, the image, the commit or the URL changed", async () => {
    const olds = { ...inputs, servingGeneration: 7, verifiedAt: "then" };
    expect(await provider.diff?.("7", olds, inputs)).toMatchObject({ changes: false });
    for (const change of [{ generation: 8 }, { image: "other" }, { gitSha: "def" }, { url: "https://x" }])
      expect(await provider.diff?.("7", olds, { ...inputs, ...change })).toMatchObject({ changes: true });
    served = { status: 200, generation: "6", sha: "old0000" };
    // A new timeout alone verifies nothing (the API serves an old generation, and it still passes).
    const result = (await provider.update?.("7", olds, { ...inputs, timeoutSeconds: 2 })) as {
      outs: DeployVerificationOutputs;
    };
    expect(result.outs).toMatchObject({ servingGeneration: 7, timeoutSeconds: 2 });
  });
});
