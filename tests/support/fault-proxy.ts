/**
 * A fault-injecting HTTP proxy on a loopback port, in front of a stand-in (the Cloudflare API, the
 * registry) or workerd (the Worker's /health). It forwards every request unchanged, except those a rule
 * matches, which get the rule's fault instead:
 *
 *   status     that status, with an optional Retry-After and body (a Cloudflare error envelope, or HTML);
 *   html       200 with an HTML login page, as a captive portal or an SSO proxy answers;
 *   truncated  200 with a JSON body cut off half-way (content-type application/json);
 *   hang       headers never come: the request is held until the client gives up;
 *   refuse     the listener closes (and open connections with it): every later connection is refused,
 *              ECONNREFUSED, until restore(). refuseConnections() does the same at once.
 *
 * With `afterForwarding`, the service answers first and the fault replaces that answer: a lost answer,
 * or, for `refuse`, a service that goes away right after it.
 */
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type Fault =
  | {
      kind: "status";
      status: number;
      retryAfter?: number;
      cloudflareError?: { code: number; message: string };
    }
  | { kind: "html" }
  | { kind: "truncated" }
  | { kind: "hang" }
  | { kind: "refuse" };

export interface FaultRule {
  method?: string;
  path: RegExp;
  fault: Fault;
  /** How many matching requests it applies to; every one when left out. */
  times?: number;
  afterForwarding?: boolean;
}

export interface FaultProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The requests that got a fault: "METHOD /path kind", and when (epoch ms). */
  injected: string[];
  injectedAt: number[];
  inject(rule: FaultRule): void;
  /** Nothing listens any more: every connection is refused until restore(). */
  refuseConnections(): void;
  /** Drops every rule, releases held requests and listens again if refusing. */
  restore(): Promise<void>;
  close(): Promise<void>;
}

const LOGIN_PAGE =
  "<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in to continue</body></html>";

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const upstream = new URL(target);
  let rules: FaultRule[] = [];
  const held = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let listening = false;

  const refuse = () => {
    if (!listening) return;
    listening = false;
    server.close();
    for (const socket of sockets) socket.destroy();
  };

  const answer = (response: ServerResponse, fault: Fault) => {
    if (fault.kind === "hang") {
      held.add(response);
      response.on("close", () => held.delete(response));
      return;
    }
    if (fault.kind === "refuse") {
      response.socket?.destroy();
      refuse();
      return;
    }
    if (fault.kind === "html") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(LOGIN_PAGE);
      return;
    }
    if (fault.kind === "truncated") {
      const body = JSON.stringify({
        success: true,
        errors: [],
        messages: [],
        result: { id: "cut", items: [1, 2] },
      });
      response.writeHead(200, { "content-type": "application/json" }).end(body.slice(0, body.length / 2));
      return;
    }
    const headers: Record<string, string> = {};
    if (fault.retryAfter !== undefined) headers["retry-after"] = String(fault.retryAfter);
    if (fault.cloudflareError) {
      headers["content-type"] = "application/json";
      response
        .writeHead(fault.status, headers)
        .end(JSON.stringify({ success: false, errors: [fault.cloudflareError], messages: [], result: null }));
      return;
    }
    response.writeHead(fault.status, headers).end();
  };

  const pass = (request: IncomingMessage, body: Buffer, response: ServerResponse, then?: Fault) => {
    const outgoing = forward(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, host: upstream.host },
      },
      (answered) => {
        const chunks: Buffer[] = [];
        answered.on("data", (chunk: Buffer) => chunks.push(chunk));
        answered.on("end", () => {
          if (then?.kind === "refuse") {
            // The answer arrives whole; the service goes away right after it.
            response
              .writeHead(answered.statusCode ?? 502, answered.headers)
              .end(Buffer.concat(chunks), refuse);
          } else if (then) answer(response, then);
          else response.writeHead(answered.statusCode ?? 502, answered.headers).end(Buffer.concat(chunks));
        });
      },
    );
    outgoing.on("error", () => response.writeHead(502).end());
    outgoing.end(body);
  };

  const server = createServer(async (request, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const path = new URL(request.url ?? "/", "http://proxy").pathname;
    const rule = rules.find(
      (candidate) => (!candidate.method || candidate.method === request.method) && candidate.path.test(path),
    );
    if (!rule) return pass(request, Buffer.concat(chunks), response);
    if (rule.times !== undefined && --rule.times <= 0) rules = rules.filter((each) => each !== rule);
    proxy.injected.push(`${request.method} ${path} ${rule.fault.kind}`);
    proxy.injectedAt.push(Date.now());
    if (rule.afterForwarding) return pass(request, Buffer.concat(chunks), response, rule.fault);
    answer(response, rule.fault);
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  const listen = (port: number) =>
    new Promise<void>((resolve) =>
      server.listen(port, "127.0.0.1", () => {
        listening = true;
        resolve();
      }),
    );
  await listen(0);
  const port = (server.address() as AddressInfo).port;

  const proxy: FaultProxy = {
    url: `http://127.0.0.1:${port}`,
    injected: [],
    injectedAt: [],
    inject: (rule) => {
      rules.push({ ...rule });
    },
    refuseConnections: refuse,
    restore: async () => {
      rules = [];
      for (const response of held) response.socket?.destroy();
      held.clear();
      if (!listening) await listen(port);
    },
    close: async () => {
      rules = [];
      for (const socket of sockets) socket.destroy();
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()));
      listening = false;
    },
  };
  return proxy;
}
