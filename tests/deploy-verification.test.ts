// DeployVerification's provider on its own, against a local /health that the test scripts (the engine suite
// runs it against the Worker in workerd).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DeployVerificationInputs,
  type DeployVerificationOutputs,
  deployVerificationProvider as provider,
} from "../components/deploy-verification-provider";

let server: Server;
let served: { status: number; generation: string; sha: string } = {
  status: 200,
  generation: "7",
  sha: "abc1234",
};
let inputs: DeployVerificationInputs;

beforeAll(async () => {
  process.env.SPECTRAL_VERIFY_POLL_MS = "20";
  server = createServer((_request, response) =>
    response
      .writeHead(served.status, { "content-type": "application/json" })
      .end(JSON.stringify({ generation: served.generation, build: { sha: served.sha } })),
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  inputs = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    generation: 7,
    gitSha: "abc1234",
    image: "registry.cloudflare.com/a/app@sha256:1",
    timeoutSeconds: 1,
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
