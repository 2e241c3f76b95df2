/**
 * A contract-faithful stand-in for the parts of Cloudflare's REST API the program calls, on a loopback
 * port: the same paths under /client/v4, Bearer-token auth, and Cloudflare's response envelope
 * ({ success, errors: [{ code, message }], messages, result }). It records every request.
 *
 * Implemented: POST /accounts/{account_id}/containers/registries/{domain}/credentials.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export const FAKE_TOKEN = "cf-test-token";

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeCloudflare {
  /** The SDK's baseURL: http://127.0.0.1:<port>/client/v4. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Registry passwords handed out, so tests can look for them in state and logs. */
  issuedPasswords: string[];
  close(): Promise<void>;
}

interface Reply {
  status: number;
  result?: unknown;
  errors?: { code: number; message: string }[];
}

const PERMISSIONS = new Set(["pull", "push", "list"]);

function registryCredentials(
  accountId: string,
  domain: string,
  body: Record<string, unknown>,
  fake: FakeCloudflare,
): Reply {
  const { expiration_minutes: minutes, permissions } = body;
  if (domain !== "registry.cloudflare.com")
    return {
      status: 404,
      errors: [{ code: 1000, message: `registry ${domain} is not configured on this account` }],
    };
  if (!Number.isInteger(minutes) || (minutes as number) <= 0)
    return {
      status: 400,
      errors: [{ code: 1001, message: "expiration_minutes must be a positive integer" }],
    };
  if (
    !Array.isArray(permissions) ||
    permissions.length === 0 ||
    !permissions.every((each) => PERMISSIONS.has(each))
  )
    return {
      status: 400,
      errors: [{ code: 1001, message: "permissions must be a non-empty subset of pull, push, list" }],
    };
  const password = `registry-password-${randomBytes(8).toString("hex")}`;
  fake.issuedPasswords.push(password);
  return { status: 200, result: { account_id: accountId, registry_host: domain, username: "v1", password } };
}

function route(method: string, path: string, body: Record<string, unknown>, fake: FakeCloudflare): Reply {
  const credentials = /^\/client\/v4\/accounts\/([^/]+)\/containers\/registries\/([^/]+)\/credentials$/.exec(
    path,
  );
  if (method === "POST" && credentials)
    return registryCredentials(credentials[1], credentials[2], body, fake);
  return { status: 404, errors: [{ code: 7003, message: `No route for that URI: ${method} ${path}` }] };
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function send(response: ServerResponse, reply: Reply): void {
  const success = reply.status < 400;
  response.writeHead(reply.status, { "content-type": "application/json" }).end(
    JSON.stringify({
      success,
      errors: reply.errors ?? [],
      messages: [],
      result: success ? reply.result : null,
    }),
  );
}

export async function startFakeCloudflare(): Promise<FakeCloudflare> {
  const fake: FakeCloudflare = { baseUrl: "", requests: [], issuedPasswords: [], close: async () => {} };
  const server = createServer(async (request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname;
    const body = await readJson(request);
    fake.requests.push({ method: request.method ?? "", path, body });
    if (request.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
      send(response, { status: 403, errors: [{ code: 10000, message: "Authentication error" }] });
      return;
    }
    send(response, route(request.method ?? "", path, body, fake));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
