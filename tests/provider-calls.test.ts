// The shared call policy (packages/provider-support/calls.js) against a loopback HTTP server that answers
// as each test tells it: what is retried, what is not, how long a call can take, and what the operator reads.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { boundedFetch, callService, httpCall, type ServiceError } from "@spectral/provider-support";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freeLoopbackPort } from "./support/postgres";

type Handler = (request: IncomingMessage, response: ServerResponse) => void;
let handler: Handler = (_request, response) => response.end();
let requests = 0;
let origin = "";
const server = createServer((request, response) => {
  requests++;
  handler(request, response);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const call = (write: boolean, limits = { requestTimeoutSeconds: 1, retryBudgetSeconds: 2 }) => ({
  resource: "Thing one",
  doing: write ? "writing it" : "reading it",
  service: "the test service",
  host: new URL(origin).host,
  write,
  limits,
});

async function timed<T>(
  run: () => Promise<T>,
): Promise<{ seconds: number; result?: T; error?: ServiceError }> {
  const started = Date.now();
  try {
    const result = await run();
    return { seconds: (Date.now() - started) / 1000, result };
  } catch (error) {
    return { seconds: (Date.now() - started) / 1000, error: error as ServiceError };
  }
}

describe("call policy (loopback HTTP server)", () => {
  it("bounds the body as well as the headers: a server that stalls mid-body is a hang", async () => {
    handler = (_request, response) => {
      response.writeHead(200, { "content-type": "application/json" });
      response.write('{"partial":');
    };
    const { seconds, error } = await timed(() => boundedFetch({ timeoutMs: 300 })(`${origin}/`));
    expect(seconds).toBeLessThan(1);
    expect(error).toMatchObject({ name: "ServiceFault", kind: "hung" });
  });

  it("retries a read through 502s, and a write through a 429 with Retry-After", async () => {
    let left = 2;
    handler = (_request, response) => {
      if (left-- > 0) response.writeHead(502).end();
      else response.writeHead(200).end("ok");
    };
    requests = 0;
    expect(await (await httpCall(call(false), `${origin}/`)).text()).toBe("ok");
    expect(requests).toBe(3);

    left = 1;
    handler = (_request, response) => {
      if (left-- > 0) response.writeHead(429, { "retry-after": "1" }).end();
      else response.writeHead(201).end();
    };
    requests = 0;
    const { seconds, result } = await timed(() => httpCall(call(true), `${origin}/`, { method: "POST" }));
    expect(result?.status).toBe(201);
    expect(requests).toBe(2);
    expect(seconds).toBeGreaterThanOrEqual(0.95);
  });

  it("never resends a write whose outcome is unknown (a 500, a 503 without Retry-After, a hang)", async () => {
    for (const answer of [
      (response: ServerResponse) => response.writeHead(500).end(),
      (response: ServerResponse) => response.writeHead(503).end(),
      () => undefined,
    ]) {
      handler = (_request, response) => answer(response);
      requests = 0;
      const { error } = await timed(() => httpCall(call(true), `${origin}/`, { method: "POST" }));
      expect(requests).toBe(1);
      expect(error?.carriedOut).toBe("unknown");
    }
  });

  it("fails at once when Retry-After asks for longer than the retry budget, and says so", async () => {
    handler = (_request, response) => response.writeHead(429, { "retry-after": "20" }).end();
    requests = 0;
    const { seconds, error } = await timed(() => httpCall(call(true), `${origin}/`, { method: "POST" }));
    expect(requests).toBe(1);
    expect(seconds).toBeLessThan(0.5);
    expect(error?.message).toBe(
      `Thing one: writing it failed: the test service at ${new URL(origin).host} answered 429; it asked to be retried after 20 s (Retry-After), longer than the retry budget of 2 s (cloudflare.retryBudgetSeconds). Wait a few minutes for the rate limit to pass, then run pulumi up again.`,
    );
  });

  it("reads Retry-After as an HTTP date too", async () => {
    let left = 1;
    handler = (_request, response) => {
      if (left-- > 0)
        response.writeHead(503, { "retry-after": new Date(Date.now() + 1000).toUTCString() }).end();
      else response.writeHead(204).end();
    };
    const { result } = await timed(() => httpCall(call(true), `${origin}/`, { method: "DELETE" }));
    expect(result?.status).toBe(204);
  });

  it("a read that hangs every time ends within the retry budget plus one request timeout", async () => {
    handler = () => undefined;
    const { seconds, error } = await timed(() => httpCall(call(false), `${origin}/`));
    expect(seconds).toBeLessThanOrEqual(1 + 2 + 0.5);
    expect(error?.message).toMatch(
      /^Thing one: reading it failed: the test service at 127\.0\.0\.1:\d+ gave no answer within 1 s \(tried \d times over \d s\)\. Check this machine's network, then run pulumi up again\.$/,
    );
  });

  it("retries a refused connection even for a write (nothing was sent), and names it", async () => {
    const closed = `http://127.0.0.1:${await freeLoopbackPort()}`;
    const { error } = await timed(() =>
      httpCall({ ...call(true), host: new URL(closed).host }, `${closed}/`, { method: "POST" }),
    );
    expect(error?.message).toMatch(
      /refused the connection \(nothing is listening there\) \(tried [3-6] times/,
    );
    expect(error?.carriedOut).toBe("no");
  });

  it("holds a deadline: no attempt runs past it", async () => {
    handler = () => undefined;
    const deadline = Date.now() + 600;
    const { seconds } = await timed(() =>
      callService({ ...call(false), deadline }, (timeoutMs) => boundedFetch({ timeoutMs })(`${origin}/`)),
    );
    expect(seconds).toBeLessThan(0.9);
  });

  it("names an HTML page where JSON was expected, and does not retry it", async () => {
    handler = (_request, response) =>
      response.writeHead(200, { "content-type": "text/html" }).end("<html><body>Sign in</body></html>");
    requests = 0;
    const { error } = await timed(() => httpCall(call(false), `${origin}/`, {}, { expectJson: true }));
    expect(requests).toBe(1);
    expect(error?.message).toContain("answered HTML where JSON was expected (a proxy or login page?)");
  });

  it("passes an error that is not the service's through unchanged", async () => {
    const bug = new TypeError("not the service's");
    await expect(callService(call(false), () => Promise.reject(bug))).rejects.toBe(bug);
  });
});
