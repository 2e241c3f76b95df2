/**
 * A Docker API proxy between workerd and the private engine, so that workerd's container support works on
 * an engine with no bridge network and no registry (platform facts, "Running the Worker and its container
 * on our machines"). workerd (2026-03 and later):
 *   1. reads GET /networks/bridge                  -> answered here with a loopback network;
 *   2. creates and starts `<name>-proxy` from cloudflare/proxy-everything, publishing port 39001
 *                                                  -> played here: a 127.0.0.1 listener that answers
 *                                                     PUT /egress and GET /ca, and tunnels CONNECT;
 *   3. creates the app with NetworkMode container:<name>-proxy -> rewritten to the engine's bridge, so
 *                                                     each container has its own address and port 8000
 *                                                     (blue and green run side by side, as at Cloudflare);
 *   4. reaches the app with CONNECT 127.0.0.1:<port> through the sidecar's published port
 *                                                  -> tunnelled to that port at the app's bridge address.
 * Everything else passes through to the engine unchanged. `log` records each call, for debugging.
 */
import { randomBytes } from "node:crypto";
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage } from "node:http";
import { connect, type Server, type Socket } from "node:net";

export interface DockerProxy {
  socketPath: string;
  log: string[];
  /** The sidecars' loopback ports and how many CONNECT tunnels each has opened, for bench:worker. */
  sidecars(): { port: number; tunnelsOpened: number }[];
  close(): Promise<void>;
}

const SIDECAR_PORT = "39001/tcp";

interface Sidecar {
  id: string;
  name: string;
  server: Server;
  port: number;
  tunnelsOpened(): number;
  /** Closes the listener and every tunnel still open through it. */
  close(): void;
}

async function readAll(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The bridge address of container `name` on the engine, read when a tunnel opens (a restart may change it). */
async function bridgeAddress(engineSocket: string, name: string): Promise<string> {
  const answer = await new Promise<IncomingMessage>((resolve, reject) =>
    httpRequest({ socketPath: engineSocket, agent: false, path: `/containers/${name}/json` }, resolve)
      .on("error", reject)
      .end(),
  );
  const inspected = JSON.parse((await readAll(answer)).toString("utf8")) as {
    NetworkSettings?: { Networks?: Record<string, { IPAddress?: string }> };
  };
  const address = inspected.NetworkSettings?.Networks?.bridge?.IPAddress;
  if (!address) throw new Error(`container ${name} has no bridge address (${answer.statusCode})`);
  return address;
}

/** The sidecar: PUT /egress and GET /ca answered, CONNECT <loopback>:port tunnelled to its app container. */
async function startSidecar(name: string, engineSocket: string): Promise<Sidecar> {
  const app = name.replace(/-proxy$/, "");
  const server = createHttpServer((request, response) => {
    void readAll(request).then(() => response.writeHead(200, { "content-type": "text/plain" }).end(""));
  });
  const tunnels = new Set<Socket>();
  let opened = 0;
  const track = (socket: Socket) => {
    tunnels.add(socket);
    socket.once("close", () => tunnels.delete(socket));
  };
  server.on("connect", (request: IncomingMessage, client: Socket, head: Buffer) => {
    const port = Number((request.url ?? "").split(":").at(-1));
    opened++;
    track(client);
    client.on("error", () => client.destroy());
    bridgeAddress(engineSocket, app).then(
      (address) => {
        let established = false;
        const upstream = connect(port, address, () => {
          established = true;
          client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
          if (head.length > 0) upstream.write(head);
          upstream.pipe(client);
          client.pipe(upstream);
        });
        track(upstream);
        // Nothing listens there yet: proxy-everything answers 400, which workerd reports as "Container is
        // not listening to port <n>" (workerd container-client.c++); a dropped socket would read as a lost
        // connection instead, and @cloudflare/containers resets the Durable Object for that.
        upstream.on("error", () =>
          established
            ? client.destroy()
            : client.end("HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n"),
        );
        client.on("close", () => upstream.destroy());
      },
      () => client.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const close = () => {
    server.close();
    server.closeAllConnections();
    for (const socket of tunnels) socket.destroy();
  };
  return {
    id: `sidecar${randomBytes(16).toString("hex")}`,
    name,
    server,
    port,
    tunnelsOpened: () => opened,
    close,
  };
}

export async function startDockerProxy(engineSocket: string, socketPath: string): Promise<DockerProxy> {
  const sidecars = new Map<string, Sidecar>();
  const log: string[] = [];
  const sidecarOf = (idOrName: string) =>
    [...sidecars.values()].find((sidecar) => sidecar.id === idOrName || sidecar.name === idOrName);

  const json = (response: import("node:http").ServerResponse, status: number, body: unknown) =>
    response
      .writeHead(status, { "content-type": "application/json" })
      .end(body === undefined ? "" : JSON.stringify(body));

  const passThrough = (
    request: IncomingMessage,
    body: Buffer,
    response: import("node:http").ServerResponse,
  ) => {
    const upstream = httpRequest(
      {
        socketPath: engineSocket,
        // One connection per call: pooled keep-alive connections to the engine outlive close().
        agent: false,
        method: request.method,
        path: request.url,
        headers: { ...request.headers, "content-length": String(body.length) },
      },
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(response);
      },
    );
    upstream.on("error", (error) => json(response, 502, { message: String(error) }));
    upstream.end(body);
  };

  const server = createHttpServer(async (request, response) => {
    const body = await readAll(request);
    const url = new URL(request.url ?? "/", "http://docker");
    const path = url.pathname.replace(/^\/v[0-9.]+/, "");
    log.push(`${request.method} ${path}${url.search}`);
    if (request.method === "GET" && path === "/networks/bridge") {
      return json(response, 200, {
        Name: "bridge",
        Id: "spectral-loopback",
        Driver: "bridge",
        IPAM: { Config: [{ Subnet: "127.0.0.0/8", Gateway: "127.0.0.1" }] },
        Containers: {},
      });
    }
    const create = request.method === "POST" && path === "/containers/create";
    const name = url.searchParams.get("name") ?? "";
    if (create && name.endsWith("-proxy")) {
      const sidecar = await startSidecar(name, engineSocket);
      sidecars.set(sidecar.id, sidecar);
      return json(response, 201, { Id: sidecar.id, Warnings: [] });
    }
    const target = /^\/containers\/([^/]+)(\/[a-z]+)?$/.exec(path);
    const sidecar = target ? sidecarOf(target[1]) : undefined;
    if (sidecar && target) {
      const action = target[2] ?? "";
      if (action === "/json" || (action === "" && request.method === "GET")) {
        return json(response, 200, {
          Id: sidecar.id,
          Name: `/${sidecar.name}`,
          State: { Status: "running", Running: true },
          NetworkSettings: {
            Ports: { [SIDECAR_PORT]: [{ HostIp: "127.0.0.1", HostPort: String(sidecar.port) }] },
          },
        });
      }
      if (action === "/wait") return; // held open, like a running container's wait
      if (request.method === "DELETE" || action === "/kill" || action === "/stop") {
        sidecar.close();
        sidecars.delete(sidecar.id);
      }
      return json(
        response,
        action === "/start" || action === "/stop" || action === "/kill" ? 204 : 200,
        undefined,
      );
    }
    if (create) {
      const spec = JSON.parse(body.toString("utf8") || "{}") as { HostConfig?: { NetworkMode?: string } };
      if (spec.HostConfig?.NetworkMode?.startsWith("container:")) spec.HostConfig.NetworkMode = "bridge";
      return passThrough(request, Buffer.from(JSON.stringify(spec)), response);
    }
    return passThrough(request, body, response);
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return {
    socketPath,
    log,
    sidecars: () =>
      [...sidecars.values()].map((sidecar) => ({
        port: sidecar.port,
        tunnelsOpened: sidecar.tunnelsOpened(),
      })),
    close: () =>
      new Promise((resolve) => {
        for (const sidecar of sidecars.values()) sidecar.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
