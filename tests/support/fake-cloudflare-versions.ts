/**
 * The versions area of the Cloudflare API stand-in (mounted by fake-cloudflare.ts): what a Worker's
 * uploads leave behind, and the calls wrangler makes around a deploy. Every script upload, secret change
 * and version upload makes a numbered version; an upload and a secret change also deploy it at 100%.
 *
 *   GET    workers/services/{name}                 the service and its production script (wrangler's first call)
 *   GET    workers/workers/{name}                  the Worker, with its workers.dev subdomain setting
 *   PATCH  workers/workers/{name}/versions/latest  a new version from the latest with `env` changes
 *                                                  (merge patch: null removes), not deployed
 *   GET    workers/scripts/{name}/versions         newest first, `{ items }`
 *   GET    workers/scripts/{name}/versions/{id}    with `resources.bindings` (namespace ids, no secret values)
 *   POST   workers/scripts/{name}/versions         multipart; `inherit` bindings copy the latest version's
 *   GET    workers/scripts/{name}/deployments      newest first, `{ deployments }`
 *   POST   workers/scripts/{name}/deployments      percentages adding up to 100
 *   GET    workers/scripts/{name}/secrets          names and types only
 *   PUT    workers/scripts/{name}/secrets          a new version, deployed
 *   DELETE workers/scripts/{name}/secrets/{secret} a new version, deployed
 *
 * Sources: docs workers/configuration/versions-and-deployments (every upload is a version; a secret change
 * makes a version and deploys it), the SDK's workers/scripts/{versions,deployments,secrets}.d.ts (v7.3.0)
 * for the shapes, and platform facts ("The upload and what wrangler reads back"): a version just uploaded
 * can answer 100146 until it has propagated, which wrangler retries (workers-sdk #14410).
 */
import { randomUUID } from "node:crypto";
import type { FakeScript, Reply, Upload, WorkersState } from "./fake-cloudflare-workers";

/** A binding as stored: secret values are kept to serve the Worker, never returned. */
export type StoredBinding = Record<string, unknown> & { type: string; name: string };

export interface FakeVersion {
  id: string;
  number: number;
  created_on: string;
  /** Who made it: "wrangler" for wrangler's User-Agent, "api" for any other client. */
  source: string;
  /** Why: an upload, or a secret change (annotations "workers/triggered_by"). */
  triggeredBy: "upload" | "secret" | "version_upload";
  bindings: StoredBinding[];
  compatibility_date?: string;
  compatibility_flags?: string[];
  /** Reads left that answer 100146, as a version that has not propagated yet. */
  unpropagatedReads: number;
}

export interface FakeDeployment {
  id: string;
  created_on: string;
  source: string;
  strategy: "percentage";
  versions: { version_id: string; percentage: number }[];
  annotations?: Record<string, string>;
}

export interface VersionsState {
  /** How many reads of a new version answer 100146 before it is found (default 0). */
  propagationReads: number;
}

const notFound = (name: string): Reply => ({
  status: 404,
  errors: [{ code: 10007, message: `This Worker (${name}) does not exist on your account.` }],
});
const invalid = (code: number, message: string): Reply => ({ status: 400, errors: [{ code, message }] });
// Secret names are binding names: valid JavaScript identifiers (docs: workers/configuration/secrets).
const SECRET_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Records a new version of the script (and, for uploads and secret changes, deploys it at 100%). */
export function addVersion(
  script: FakeScript,
  state: WorkersState & VersionsState,
  version: Pick<FakeVersion, "source" | "triggeredBy" | "bindings">,
  deploy: boolean,
): FakeVersion {
  script.versions ??= [];
  script.deployments ??= [];
  const made: FakeVersion = {
    ...version,
    id: randomUUID(),
    number: script.versions.length + 1,
    created_on: new Date().toISOString(),
    compatibility_date: script.compatibility_date,
    compatibility_flags: script.compatibility_flags,
    unpropagatedReads: state.propagationReads,
  };
  script.versions.unshift(made);
  if (deploy) {
    script.deployments.unshift({
      id: randomUUID(),
      created_on: made.created_on,
      source: version.source,
      strategy: "percentage",
      versions: [{ version_id: made.id, percentage: 100 }],
    });
    script.bindings = version.bindings;
    script.last_deployed_from = version.source;
  }
  return made;
}

/** A binding as the API shows it: a secret's value never leaves. */
export function shownBinding({ text, ...binding }: StoredBinding): Record<string, unknown> {
  return binding.type === "secret_text" ? binding : { ...binding, ...(text === undefined ? {} : { text }) };
}

function versionView(version: FakeVersion, script: FakeScript) {
  return {
    id: version.id,
    number: version.number,
    metadata: { created_on: version.created_on, modified_on: version.created_on, source: version.source },
    annotations: { "workers/triggered_by": version.triggeredBy },
    resources: {
      bindings: version.bindings.map(shownBinding),
      script: { etag: script.etag, handlers: ["fetch", "scheduled"] },
      script_runtime: {
        compatibility_date: version.compatibility_date,
        compatibility_flags: version.compatibility_flags ?? [],
      },
    },
  };
}

function service(name: string, script: FakeScript) {
  return {
    id: name,
    default_environment: {
      environment: "production",
      script: {
        id: name,
        tag: script.tag,
        tags: [],
        etag: script.etag,
        handlers: ["fetch", "scheduled"],
        last_deployed_from: script.last_deployed_from,
        migration_tag: script.migration_tag,
      },
    },
  };
}

/** PUT secrets: one `secret_text` binding set or replaced, as a new deployed version. */
function putSecret(script: FakeScript, body: Record<string, unknown>, source: string, state: Versioned) {
  const { name, text, type } = body;
  if (typeof name !== "string" || !SECRET_NAME.test(name))
    return invalid(10021, "secret name must be a valid JavaScript identifier");
  if (type !== "secret_text" || typeof text !== "string")
    return invalid(10021, 'a secret needs type "secret_text" and a text value');
  const clash = (script.bindings ?? []).find((each) => each.name === name && each.type !== "secret_text");
  // A secret may not take the name of another binding (docs: workers/configuration/secrets).
  if (clash) return invalid(10053, `Binding name '${name}' already in use`);
  const bindings = [...(script.bindings ?? []).filter((each) => each.name !== name), { type, name, text }];
  addVersion(script, state, { source, triggeredBy: "secret", bindings }, true);
  return { status: 200, result: { name, type } };
}

/**
 * POST versions: the upload's bindings, where `{ type: "inherit", name }` copies the binding of that name
 * from the latest version (docs: workers/configuration/multipart-upload-metadata, "inherit"). The version
 * is not deployed.
 */
function uploadVersion(script: FakeScript, upload: Upload, source: string, state: Versioned): Reply {
  const latest = script.versions?.[0];
  const bindings: StoredBinding[] = [];
  for (const binding of (upload.metadata.bindings ?? []) as StoredBinding[]) {
    if (binding.type !== "inherit") {
      bindings.push(binding);
      continue;
    }
    const inherited = latest?.bindings.find((each) => each.name === binding.name);
    if (!inherited) return invalid(10021, `binding ${binding.name} has no earlier version to inherit from`);
    bindings.push(inherited);
  }
  const version = addVersion(script, state, { source, triggeredBy: "version_upload", bindings }, false);
  return { status: 200, result: { id: version.id, number: version.number, resources: { bindings } } };
}

/**
 * PATCH versions/latest (a JSON merge patch, RFC 7396): `env` sets secret or plain-text bindings by name, and
 * null removes one. The new version is not deployed (`wrangler versions secret put`).
 */
function patchLatest(script: FakeScript, body: Record<string, unknown>, source: string, state: Versioned) {
  const latest = script.versions?.[0];
  // The code wrangler maps to "no versions yet" (NO_VERSIONS_ERR_CODE); the number is the stand-in's own.
  if (!latest) return { status: 404, errors: [{ code: 10217, message: "This Worker has no versions" }] };
  const env = (body.env ?? {}) as Record<string, { type?: string; text?: unknown } | null>;
  let bindings = [...latest.bindings];
  for (const [name, change] of Object.entries(env)) {
    if (!SECRET_NAME.test(name))
      return invalid(10021, `binding name ${name} is not a valid JavaScript identifier`);
    bindings = bindings.filter((each) => each.name !== name);
    if (change === null) continue;
    if (!["secret_text", "plain_text"].includes(change.type ?? "") || typeof change.text !== "string")
      return invalid(10021, `env.${name} needs type secret_text or plain_text and a text value`);
    bindings.push({ type: change.type as string, name, text: change.text });
  }
  const version = addVersion(script, state, { source, triggeredBy: "secret", bindings }, false);
  return { status: 200, result: versionView(version, script) };
}

/** POST deployments: versions of this script, percentages adding up to 100 (docs: gradual deployments). */
function deploy(script: FakeScript, body: Record<string, unknown>, source: string): Reply {
  const versions = body.versions as { version_id?: string; percentage?: number }[] | undefined;
  if (!Array.isArray(versions) || versions.length === 0) return invalid(10021, "versions is required");
  const total = versions.reduce((sum, each) => sum + (each.percentage ?? 0), 0);
  if (total !== 100) return invalid(10021, "the versions' percentages must add up to 100");
  const unknown = versions.find(
    (each) => !script.versions?.some((version) => version.id === each.version_id),
  );
  if (unknown) return invalid(10021, `version ${unknown.version_id} is not a version of this Worker`);
  const deployment: FakeDeployment = {
    id: randomUUID(),
    created_on: new Date().toISOString(),
    source,
    strategy: "percentage",
    versions: versions as FakeDeployment["versions"],
  };
  script.deployments = [deployment, ...(script.deployments ?? [])];
  const whole = script.versions?.find((version) => version.id === versions[0].version_id);
  if (versions.length === 1 && whole) {
    script.bindings = whole.bindings;
    script.last_deployed_from = source;
  }
  return { status: 200, result: deployment };
}

type Versioned = WorkersState & VersionsState;

export function versionsRoute(
  method: string,
  path: string,
  body: unknown,
  source: string,
  state: Versioned,
): Reply | undefined {
  const latest = /^workers\/workers\/([^/]+)\/versions\/latest$/.exec(path);
  if (latest && method === "PATCH") {
    const script = state.scripts.get(latest[1]);
    return script ? patchLatest(script, body as Record<string, unknown>, source, state) : notFound(latest[1]);
  }
  const match =
    /^workers\/(services|workers)\/([^/]+)$/.exec(path) ??
    /^workers\/scripts\/([^/]+)\/(versions|deployments|secrets)(?:\/([^/]+))?$/.exec(path);
  if (!match) return undefined;
  const name = match[1] === "services" || match[1] === "workers" ? match[2] : match[1];
  const script = state.scripts.get(name);
  if (!script) return notFound(name);
  if (match[1] === "services" && method === "GET") return { status: 200, result: service(name, script) };
  if (match[1] === "workers" && method === "GET")
    return {
      status: 200,
      result: { id: name, name, subdomain: script.subdomain ?? { enabled: false, previews_enabled: false } },
    };
  const [, , area, id] = match;
  if (area === "versions" && method === "GET" && id === undefined)
    return {
      status: 200,
      result: { items: (script.versions ?? []).map((version) => versionView(version, script)) },
    };
  if (area === "versions" && method === "GET") {
    const version = script.versions?.find((each) => each.id === id);
    if (!version) return { status: 404, errors: [{ code: 10007, message: `version ${id} not found` }] };
    if (version.unpropagatedReads > 0) {
      version.unpropagatedReads -= 1;
      return { status: 404, errors: [{ code: 100146, message: "This Worker version does not exist yet." }] };
    }
    return { status: 200, result: versionView(version, script) };
  }
  if (area === "versions" && method === "POST" && id === undefined)
    return uploadVersion(script, body as Upload, source, state);
  if (area === "deployments" && method === "GET" && id === undefined)
    return { status: 200, result: { deployments: script.deployments ?? [] } };
  if (area === "deployments" && method === "POST" && id === undefined)
    return deploy(script, body as Record<string, unknown>, source);
  if (area === "secrets" && method === "GET" && id === undefined)
    return {
      status: 200,
      result: (script.bindings ?? [])
        .filter((each) => each.type === "secret_text")
        .map(({ name: secret, type }) => ({ name: secret, type })),
    };
  if (area === "secrets" && method === "PUT" && id === undefined)
    return putSecret(script, body as Record<string, unknown>, source, state);
  if (area === "secrets" && method === "DELETE" && id !== undefined) {
    if (!(script.bindings ?? []).some((each) => each.name === id && each.type === "secret_text"))
      return { status: 404, errors: [{ code: 10056, message: `secret ${id} not found` }] };
    const bindings = (script.bindings ?? []).filter((each) => each.name !== id) as StoredBinding[];
    addVersion(script, state, { source, triggeredBy: "secret", bindings }, true);
    return { status: 200, result: null };
  }
  return undefined;
}
