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
 *   GET    containers/applications                (page-token pagination)
 *   POST   containers/applications                (scheduling_policy "default" body, checked field by field)
 *   GET    containers/applications/{id}
 *   PATCH  containers/applications/{id}           (only the fields Cloudflare's PATCH accepts)
 *   DELETE containers/applications/{id}
 *   POST   containers/applications/{id}/rollouts  (strategy, kind, steps or step_percentage, target_configuration)
 * Tests seed `scripts`, `namespaces` and `applications`, and may queue a failure with `failNext`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  type FakeNamespace,
  type FakeScript,
  page,
  parseUpload,
  type Reply,
  type Upload,
  type WorkersState,
  workersRoute,
} from "./fake-cloudflare-workers";

export const FAKE_TOKEN = "cf-test-token";

export interface RecordedRequest {
  method: string;
  path: string;
  body: unknown;
}

export interface FakeApplication {
  id: string;
  name: string;
  scheduling_policy: string;
  instances: number;
  max_instances: number;
  configuration: Record<string, unknown>;
  durable_objects: { namespace_id: string };
  version: number;
}

export interface FakeCloudflare extends WorkersState {
  /** The SDK's baseURL: http://127.0.0.1:<port>/client/v4. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Registry passwords handed out, so tests can look for them in state and logs. */
  issuedPasswords: string[];
  /** Worker scripts by name, with their Durable Object migration tag and what was uploaded. */
  scripts: Map<string, FakeScript>;
  namespaces: FakeNamespace[];
  applications: Map<string, FakeApplication>;
  rollouts: { applicationId: string; body: Record<string, unknown> }[];
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
  };
  close(): Promise<void>;
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

const INSTANCE_TYPES = ["lite", "basic", "standard-1", "standard-2", "standard-3", "standard-4"];
const CREATE_FIELDS = [
  "name",
  "scheduling_policy",
  "instances",
  "max_instances",
  "configuration",
  "durable_objects",
  "constraints",
  "observability",
  "rollout_active_grace_period",
];
const PATCH_FIELDS = [
  "max_instances",
  "constraints",
  "observability",
  "rollout_active_grace_period",
  "configuration",
];
const PATCH_CONFIGURATION_FIELDS = ["authorized_keys", "wrangler_ssh"];
const STEP_PERCENTAGES = [5, 10, 20, 25, 50, 100];

const invalid = (message: string): Reply => ({ status: 400, errors: [{ code: 1001, message }] });
const unknownKeys = (body: Record<string, unknown>, allowed: string[]) =>
  Object.keys(body).filter((key) => !allowed.includes(key));

function configurationProblem(configuration: unknown): string | undefined {
  const { image, instance_type: instanceType } = (configuration ?? {}) as Record<string, unknown>;
  if (typeof image !== "string" || !image) return "image is required";
  if (instanceType !== undefined && !INSTANCE_TYPES.includes(instanceType as string))
    return `instance_type must be one of ${INSTANCE_TYPES.join(", ")}`;
  return undefined;
}

function createApplication(body: Record<string, unknown>, fake: FakeCloudflare): Reply {
  const extra = unknownKeys(body, CREATE_FIELDS);
  if (extra.length) return invalid(`unknown fields: ${extra.join(", ")}`);
  if (typeof body.name !== "string" || !body.name) return invalid("name is required");
  if (body.scheduling_policy !== "default")
    return invalid('scheduling_policy must be "default" for this request');
  if (
    !Number.isInteger(body.instances) ||
    !Number.isInteger(body.max_instances) ||
    (body.max_instances as number) < 1
  )
    return invalid("instances and max_instances must be integers, max_instances at least 1");
  const problem = configurationProblem(body.configuration);
  if (problem) return invalid(`configuration.${problem}`);
  const durableObjects = body.durable_objects as { namespace_id?: unknown } | undefined;
  if (typeof durableObjects?.namespace_id !== "string")
    return invalid("durable_objects.namespace_id is required");
  if ([...fake.applications.values()].some((application) => application.name === body.name))
    return {
      status: 409,
      errors: [{ code: 1409, message: `an application named ${body.name} already exists` }],
    };
  const application: FakeApplication = {
    id: `app-${randomBytes(6).toString("hex")}`,
    name: body.name,
    scheduling_policy: "default",
    instances: body.instances as number,
    max_instances: body.max_instances as number,
    configuration: body.configuration as Record<string, unknown>,
    durable_objects: { namespace_id: durableObjects.namespace_id },
    version: 1,
  };
  fake.applications.set(application.id, application);
  return { status: 200, result: application };
}

function patchApplication(application: FakeApplication, body: Record<string, unknown>): Reply {
  const configuration = (body.configuration ?? {}) as Record<string, unknown>;
  const refused = [
    ...unknownKeys(body, PATCH_FIELDS),
    ...unknownKeys(configuration, PATCH_CONFIGURATION_FIELDS).map((key) => `configuration.${key}`),
  ];
  if (refused.length) return invalid(`PATCH cannot change ${refused.join(", ")}: start a rollout instead`);
  if (body.max_instances !== undefined) application.max_instances = body.max_instances as number;
  return { status: 200, result: application };
}

function stepsProblem(body: Record<string, unknown>): string | undefined {
  const steps = body.steps as { description?: unknown; step_size?: { percentage?: unknown } }[] | undefined;
  if (steps === undefined)
    return STEP_PERCENTAGES.includes(body.step_percentage as number)
      ? undefined
      : "give steps or a step_percentage of 5, 10, 20, 25, 50 or 100";
  const percentages = steps.map((step) => step.step_size?.percentage);
  const wellFormed = steps.every((step) => typeof step.description === "string");
  const inRange = percentages.every((p) => Number.isInteger(p) && (p as number) >= 1 && (p as number) <= 100);
  if (!wellFormed || !inRange)
    return "each step needs a description and a step_size.percentage from 1 to 100";
  return percentages.at(-1) === 100 ? undefined : "the last step must reach 100 percent";
}

function createRollout(
  application: FakeApplication,
  body: Record<string, unknown>,
  fake: FakeCloudflare,
): Reply {
  if (typeof body.description !== "string") return invalid("description is required");
  if (!["rolling", "new_instances"].includes(body.strategy as string))
    return invalid("strategy must be rolling or new_instances");
  if (body.kind !== undefined && !["full_auto", "full_manual"].includes(body.kind as string))
    return invalid("kind must be full_auto or full_manual");
  const problem = stepsProblem(body) ?? configurationProblem(body.target_configuration);
  if (problem) return invalid(problem);
  application.configuration = { ...application.configuration, ...(body.target_configuration as object) };
  application.version += 1;
  fake.rollouts.push({ applicationId: application.id, body });
  return {
    status: 200,
    result: {
      id: `rollout-${fake.rollouts.length}`,
      status: "progressing",
      target_version: application.version,
    },
  };
}

function applicationRoute(
  method: string,
  path: string,
  body: Record<string, unknown>,
  fake: FakeCloudflare,
): Reply | undefined {
  const match = /^containers\/applications\/([^/]+)(\/rollouts)?$/.exec(path);
  if (!match) return undefined;
  const application = fake.applications.get(match[1]);
  if (!application)
    return { status: 404, errors: [{ code: 1404, message: `application ${match[1]} not found` }] };
  if (match[2]) return method === "POST" ? createRollout(application, body, fake) : undefined;
  if (method === "GET") return { status: 200, result: application };
  if (method === "PATCH") return patchApplication(application, body);
  if (method === "DELETE") {
    fake.applications.delete(application.id);
    return { status: 200, result: {} };
  }
  return undefined;
}

function route(method: string, url: URL, body: Record<string, unknown>, fake: FakeCloudflare): Reply {
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
  else if (method === "GET" && path === "containers/applications")
    reply = { status: 200, result: [...fake.applications.values()], resultInfo: {} };
  else if (method === "POST" && path === "containers/applications") reply = createApplication(body, fake);
  else reply = workersRoute(method, path, body, fake) ?? applicationRoute(method, path, body, fake);
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

function send(response: ServerResponse, reply: Reply): void {
  const success = reply.status < 400;
  response.writeHead(reply.status, { "content-type": "application/json" }).end(
    JSON.stringify({
      success,
      errors: reply.errors ?? [],
      messages: [],
      result: success ? reply.result : null,
      ...(success && reply.resultInfo ? { result_info: reply.resultInfo } : {}),
    }),
  );
}

export async function startFakeCloudflare(): Promise<FakeCloudflare> {
  const fake: FakeCloudflare = {
    baseUrl: "",
    requests: [],
    issuedPasswords: [],
    scripts: new Map(),
    namespaces: [],
    accountSubdomain: "spectral-test",
    domains: [],
    applications: new Map(),
    rollouts: [],
    close: async () => {},
  };
  const server = createServer(async (request, response) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const method = request.method ?? "";
    const body = await readBody(request);
    fake.requests.push({ method, path: url.pathname, body });
    if (request.headers.authorization !== `Bearer ${FAKE_TOKEN}`) {
      send(response, { status: 403, errors: [{ code: 10000, message: "Authentication error" }] });
      return;
    }
    const malformed = "status" in body && typeof body.status === "number" && "errors" in body;
    const handle = () =>
      malformed ? (body as Reply) : route(method, url, body as Record<string, unknown>, fake);
    const failure = fake.failNext;
    if (failure && failure.method === method && failure.pathPattern.test(url.pathname)) {
      failure.times = (failure.times ?? 1) - 1;
      if (failure.times <= 0) fake.failNext = undefined;
      if (failure.afterHandling) handle();
      send(response, { status: failure.status, errors: [{ code: failure.code, message: failure.message }] });
      return;
    }
    send(response, handle());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  fake.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/client/v4`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
