/**
 * A contract-faithful stand-in for the parts of Cloudflare's REST API the program calls, on a loopback
 * port: the same paths under /client/v4, Bearer-token auth, and Cloudflare's response envelope
 * ({ success, errors: [{ code, message }], messages, result }). It records every request.
 *
 * Implemented, under /client/v4/accounts/{account_id}:
 *   POST   containers/registries/{domain}/credentials
 *   GET    workers/scripts                        (id, migration_tag)
 *   ...    the Workers area: script upload, settings, subdomain, schedules, domains (fake-cloudflare-workers.ts)
 *   GET    workers/durable_objects/namespaces     (v4 page pagination, 20 a page)
 *   ...    the Containers area: applications and rollouts (fake-cloudflare-containers.ts)
 * Tests seed `scripts`, `namespaces`, `applications` and `registryImages`, and may queue a failure with
 * `failNext`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { type ContainersState, containersRoute } from "./fake-cloudflare-containers";
import {
  type FakeNamespace,
  type FakeScript,
  page,
  parseUpload,
  type Reply,
  type Upload,
  workersRoute,
} from "./fake-cloudflare-workers";

export const FAKE_TOKEN = "cf-test-token";

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
  /** The query string, with its "?" ("" when none). */
  search: string;
  /** Who sent it: "wrangler" (its User-Agent) or "api". */
  source: string;
  /** The answer's status and first error code, once answered. */
  status?: number;
  code?: number;
}

export type { FakeApplication } from "./fake-cloudflare-containers";

export interface FakeCloudflare extends ContainersState {
  /** The SDK's baseURL: http://127.0.0.1:<port>/client/v4. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Registry passwords handed out, so tests can look for them in state and logs. */
  issuedPasswords: string[];
  /** The account's managed registry hosts: registry.cloudflare.com, and a loopback stand-in's if a test adds it. */
  registryDomains: Set<string>;
  /** Worker scripts by name, with their Durable Object migration tag and what was uploaded. */
  scripts: Map<string, FakeScript>;
  namespaces: FakeNamespace[];
  /** Answers the next matching request (the next `times`, default 1) with this status and error instead. */
  failNext?: {
    method: string;
    pathPattern: RegExp;
    status: number;
    code: number;
    message: string;
    times?: number;
    /** Carry the request out first, then answer with the failure: a lost answer. */
    afterHandling?: boolean;
    /** A Retry-After header, in seconds (a 429 or 503 that says when to come back). */
    retryAfter?: number;
  };
  close(): Promise<void>;
}

// Rules of POST .../containers/registries/{domain}/credentials, from the cloudflare SDK's
// CredentialGenerateParams (resources/containers/registries/credentials.d.ts, v7.3.0): for the managed
// registry, expiration_minutes is "required ... and must remain positive", and permissions is required, each
// one of pull, push, list. The error code 1001 is the stand-in's own; Cloudflare publishes none for these.
const PERMISSIONS = new Set(["pull", "push", "list"]);

function registryCredentials(
  accountId: string,
  domain: string,
  body: Record<string, unknown>,
  fake: FakeCloudflare,
): Reply {
  const { expiration_minutes: minutes, permissions } = body;
  if (!fake.registryDomains.has(domain))
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

function route(
  method: string,
  url: URL,
  body: Record<string, unknown>,
  source: string,
  fake: FakeCloudflare,
): Reply {
  const accountPath = /^\/client\/v4\/accounts\/([^/]+)\/(.*)$/.exec(url.pathname);
  const [accountId, path] = accountPath ? [accountPath[1], accountPath[2]] : ["", url.pathname];
  const credentials = /^containers\/registries\/([^/]+)\/credentials$/.exec(path);
  let reply: Reply | undefined;
  if (method === "POST" && credentials) reply = registryCredentials(accountId, credentials[1], body, fake);
  else if (method === "GET" && path === "workers/scripts")
    reply = {
      status: 200,
      result: [...fake.scripts].map(([id, script]) => ({
        id,
        migration_tag: script.migration_tag,
        etag: script.etag,
      })),
    };
  else if (method === "GET" && path === "workers/durable_objects/namespaces")
    reply = page(fake.namespaces, url.searchParams);
  else
    reply =
      workersRoute(method, path, body, source, fake) ??
      containersRoute(method, path, url.searchParams, body, fake);
  return (
    reply ?? {
      status: 404,
      errors: [{ code: 7003, message: `No route for that URI: ${method} ${url.pathname}` }],
    }
  );
}

/** The request's body: JSON, or a multipart Worker upload (metadata and module parts). */
async function readBody(request: IncomingMessage): Promise<Record<string, unknown> | Upload | Reply> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  const type = request.headers["content-type"] ?? "";
  if (type.startsWith("multipart/form-data")) return parseUpload(raw, type);
  const text = raw.toString("utf8");
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    // What Cloudflare answers a script upload that is not multipart (cloudflare-typescript #158), and any
    // other body that is not JSON.
    return /\/workers\/scripts\/[^/]+$/.test(request.url ?? "")
      ? { status: 400, errors: [{ code: 10021, message: "could not read content for part metadata" }] }
      : { status: 400, errors: [{ code: 6007, message: "Malformed JSON in request body" }] };
  }
}

function send(response: ServerResponse, reply: Reply, recorded: RecordedRequest, retryAfter?: number): void {
  recorded.status = reply.status;
  recorded.code = reply.errors?.[0]?.code;
  const success = reply.status < 400;
  response
    .writeHead(reply.status, {
      "content-type": "application/json",
      ...(retryAfter === undefined ? {} : { "retry-after": String(retryAfter) }),
    })
    .end(
      JSON.stringify({
        success,
        errors: reply.errors ?? [],
        messages: [],
        result: success ? reply.result : null,
        ...(success && reply.resultInfo ? { result_info: reply.resultInfo } : {}),
      }),
    );
}

/** A failure that happens after the request was carried out: the answer is lost (a 502 from the edge). */
export function lostAnswer(method: string, pathPattern: RegExp): NonNullable<FakeCloudflare["failNext"]> {
  return { method, pathPattern, status: 502, code: 10013, message: "bad gateway", afterHandling: true };
}

export async function startFakeCloudflare(): Promise<FakeCloudflare> {
  const fake: FakeCloudflare = {
    baseUrl: "",
    requests: [],
    issuedPasswords: [],
    registryDomains: new Set(["registry.cloudflare.com"]),
    scripts: new Map(),
    namespaces: [],
    accountSubdomain: "spectral-test",
    domains: [],
    applications: new Map(),
    rollouts: [],
    registryImages: new Set(),
    unpullableImages: new Set(),
    applicationsPerPage: 20,
    rolloutPhaseMs: 20,
    propagationReads: 0,
    close: async () => {},
  };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "";
    const body = await readBody(request);
    // Who deploys shows as the services answer's last_deployed_from; wrangler names itself in its User-Agent.
    const source = /^wrangler\//.test(request.headers["user-agent"] ?? "") ? "wrangler" : "api";
    const recorded: RecordedRequest = { method, path: url.pathname, body, search: url.search, source };
    fake.requests.push(recorded);
    if (request.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
      send(response, { status: 403, errors: [{ code: 10000, message: "Authentication error" }] }, recorded);
      return;
    }
    const malformed = "status" in body && typeof body.status === "number" && "errors" in body;
    const handle = () =>
      malformed ? (body as Reply) : route(method, url, body as Record<string, unknown>, source, fake);
    const failure = fake.failNext;
    if (failure && failure.method === method && failure.pathPattern.test(url.pathname)) {
      failure.times = (failure.times ?? 1) - 1;
      if (failure.times <= 0) fake.failNext = undefined;
      if (failure.afterHandling) handle();
      send(
        response,
        { status: failure.status, errors: [{ code: failure.code, message: failure.message }] },
        recorded,
        failure.retryAfter,
      );
      return;
    }
    send(response, handle(), recorded);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
