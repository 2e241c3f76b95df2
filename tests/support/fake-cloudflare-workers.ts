/**
 * The Workers area of the Cloudflare API stand-in (mounted by fake-cloudflare.ts): script upload, version
 * upload, settings, the workers.dev subdomain, cron schedules and custom domains. It enforces the rules the
 * program depends on, each with its source:
 *
 *   PUT    workers/scripts/{name}              multipart `metadata` + module parts
 *   POST   workers/scripts/{name}/versions     refuses migrations (10211)
 *   GET    workers/scripts/{name}/settings     bindings (secret values never returned), with namespace ids
 *   DELETE workers/scripts/{name}              with its Durable Object namespaces
 *   GET    workers/subdomain                   the account's workers.dev subdomain
 *   GET|POST workers/scripts/{name}/subdomain  off unless enabled
 *   GET|PUT workers/scripts/{name}/schedules   cron triggers
 *   GET|PUT workers/domains                    custom domains
 */
import { randomBytes } from "node:crypto";
import {
  addVersion,
  type FakeDeployment,
  type FakeVersion,
  type StoredBinding,
  shownBinding,
  versionsRoute,
} from "./fake-cloudflare-versions";

export interface Reply {
  status: number;
  result?: unknown;
  resultInfo?: unknown;
  errors?: { code: number; message: string }[];
}

export interface FakeScript {
  migration_tag?: string;
  /** Durable Object classes the script's migrations created, with whether they are SQLite-backed. */
  classes?: Map<string, { sqlite: boolean }>;
  bindings?: StoredBinding[];
  compatibility_date?: string;
  compatibility_flags?: string[];
  containers?: { class_name: string }[];
  modules?: string[];
  subdomain?: { enabled: boolean; previews_enabled: boolean };
  schedules?: { cron: string }[];
  etag?: string;
  /** The service's tag (workers/services), set at the first upload. */
  tag?: string;
  /** "wrangler" or "api": who deployed last (the services answer's `last_deployed_from`). */
  last_deployed_from?: string;
  /** How active Durable Objects take new code (the upload's `code_update_strategy`), when one was sent. */
  code_update_strategy?: { mode: string; max_delay?: number };
  versions?: FakeVersion[];
  deployments?: FakeDeployment[];
}

export interface FakeNamespace {
  id: string;
  name: string;
  script: string;
  class: string;
  use_sqlite: boolean;
}

/** What the Workers routes read and change; part of the FakeCloudflare object. */
export interface WorkersState {
  scripts: Map<string, FakeScript>;
  namespaces: FakeNamespace[];
  /** The account's workers.dev subdomain. */
  accountSubdomain: string;
  domains: { id: string; hostname: string; service: string; environment: string; zone_id?: string }[];
  /** How many reads of a new version answer 100146 before it is found (default 0). */
  propagationReads: number;
  /** Told each accepted script upload, as a deploy: the runtime suites restart workerd with it. */
  onScriptUpload?: (name: string, upload: Upload) => void;
}

const invalid = (code: number, message: string): Reply => ({ status: 400, errors: [{ code, message }] });

// Binding names must be valid JavaScript identifiers, unique in the script (docs: workers/configuration/
// multipart-upload-metadata, "bindings"); 10021 is the API's code for an invalid upload.
const BINDING_NAME = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
// Environment variables and secrets: at most 128 per Worker on a paid plan (docs: workers/platform/limits,
// "Environment variables").
const TEXT_BINDING_LIMIT = 128;

/** Module parts of a multipart upload by file name, and the parsed metadata part. */
export interface Upload {
  metadata: Record<string, unknown>;
  parts: Map<string, string>;
}

/**
 * A script upload: one `metadata` part holding JSON, and module parts named as `main_module` names them
 * (docs: workers/configuration/multipart-upload-metadata). Anything else is refused as Cloudflare refuses
 * it: 10021 "could not read content for part metadata" (cloudflare-typescript #158, #2799).
 */
export async function parseUpload(body: Buffer, contentType: string): Promise<Upload | Reply> {
  if (!contentType.startsWith("multipart/form-data"))
    return invalid(10021, "could not read content for part metadata");
  const form = await new Request("http://upload", {
    method: "PUT",
    headers: { "content-type": contentType },
    body,
  }).formData();
  const parts = new Map<string, string>();
  let metadata: Record<string, unknown> | undefined;
  for (const [field, value] of form) {
    const text = typeof value === "string" ? value : await value.text();
    if (field !== "metadata") parts.set(field, text);
    else {
      try {
        metadata = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return invalid(10021, "could not read content for part metadata");
      }
    }
  }
  if (!metadata) return invalid(10021, "could not read content for part metadata");
  return { metadata, parts };
}

type Migrations = {
  old_tag?: string;
  new_tag?: string;
  steps?: {
    new_sqlite_classes?: string[];
    new_classes?: string[];
    deleted_classes?: string[];
    renamed_classes?: { from: string; to: string }[];
  }[];
};

/**
 * Applies a migrations object to a copy of the script's classes. Cloudflare checks `old_tag` against the
 * script's tag as a precondition: 10079 "Actor migration tag precondition failed, got tag 'X' when expected
 * tag is 'Y'" (the message wrangler and Alchemy parse; alchemy-run/alchemy-async #437).
 */
function migrate(script: FakeScript | undefined, migrations: Migrations) {
  const expected = script?.migration_tag ?? "";
  const got = migrations.old_tag ?? "";
  if (got !== expected)
    return invalid(
      10079,
      `Actor migration tag precondition failed, got tag '${got}' when expected tag is '${expected}'`,
    );
  // The API takes one object, not wrangler.toml's list (10021 "cannot unmarshal array").
  if (!migrations.new_tag || !Array.isArray(migrations.steps))
    return invalid(10021, "migrations needs new_tag and steps");
  const classes = new Map(script?.classes ?? []);
  for (const step of migrations.steps) {
    for (const name of step.new_sqlite_classes ?? []) classes.set(name, { sqlite: true });
    for (const name of step.new_classes ?? []) classes.set(name, { sqlite: false });
    for (const name of step.deleted_classes ?? []) classes.delete(name);
    for (const { from, to } of step.renamed_classes ?? []) {
      const existing = classes.get(from);
      if (!existing) return invalid(10074, `Cannot rename class ${from}: it does not exist`);
      classes.delete(from);
      classes.set(to, existing);
    }
  }
  return { classes, tag: migrations.new_tag };
}

export function uploadScript(name: string, upload: Upload, source: string, state: WorkersState): Reply {
  const { metadata, parts } = upload;
  const mainModule = metadata.main_module;
  if (typeof mainModule !== "string" || !parts.has(mainModule))
    return invalid(10021, `main_module ${String(mainModule)} is not one of the uploaded parts`);
  if (
    typeof metadata.compatibility_date !== "string" ||
    !/^\d{4}-\d{2}-\d{2}$/.test(metadata.compatibility_date)
  )
    return invalid(10021, "compatibility_date must be a date like 2026-11-01");
  const bindings = (metadata.bindings ?? []) as StoredBinding[];
  const names = bindings.map((binding) => String(binding.name));
  const bad = names.find((each) => !BINDING_NAME.test(each));
  if (bad !== undefined) return invalid(10021, `binding name ${bad} is not a valid JavaScript identifier`);
  if (new Set(names).size !== names.length) return invalid(10021, "binding names must be unique");
  const texts = bindings.filter((binding) => binding.type === "plain_text" || binding.type === "secret_text");
  if (texts.length > TEXT_BINDING_LIMIT)
    return invalid(10021, `a Worker has at most ${TEXT_BINDING_LIMIT} environment variables and secrets`);

  const strategy = codeUpdateStrategyProblem(metadata.code_update_strategy);
  if (strategy) return invalid(10021, strategy);
  const script = state.scripts.get(name);
  const migrated = metadata.migrations
    ? migrate(script, metadata.migrations as Migrations)
    : { classes: new Map(script?.classes ?? []), tag: script?.migration_tag };
  if ("status" in migrated) return migrated;
  // A Durable Object binding to one of the script's own classes needs a migration that created it
  // (docs: durable-objects/reference/durable-objects-migrations, "Create migration").
  for (const binding of bindings.filter(
    (each) => each.type === "durable_object_namespace" && !each.script_name,
  )) {
    if (!migrated.classes.has(String(binding.class_name)))
      return invalid(
        10061,
        `Cannot create binding for class '${binding.class_name}' because it is not currently configured to implement Durable Objects. Did you forget to apply a Durable Object migration?`,
      );
  }
  // Containers run in SQLite-backed Durable Object classes (docs: containers/get-started; wrangler's
  // containers validation). The real code for this refusal is not published; 10021 stands in.
  const containers = (metadata.containers ?? []) as { class_name?: string }[];
  for (const { class_name: className } of containers) {
    if (!migrated.classes.get(String(className))?.sqlite)
      return invalid(
        10021,
        `container class ${className} must be a SQLite-backed Durable Object class of this Worker`,
      );
  }

  const namespaceOf = (className: string) => {
    let namespace = state.namespaces.find((each) => each.script === name && each.class === className);
    if (!namespace) {
      namespace = {
        id: `ns-${randomBytes(8).toString("hex")}`,
        name: `${name}_${className}`,
        script: name,
        class: className,
        use_sqlite: migrated.classes.get(className)?.sqlite ?? false,
      };
      state.namespaces.push(namespace);
    }
    return namespace.id;
  };
  const declared = bindings.map((binding) =>
    binding.type === "durable_object_namespace" && !binding.script_name
      ? { ...binding, namespace_id: namespaceOf(String(binding.class_name)) }
      : binding,
  );
  const stored: FakeScript = {
    ...script,
    migration_tag: migrated.tag,
    classes: migrated.classes,
    compatibility_date: metadata.compatibility_date,
    compatibility_flags: (metadata.compatibility_flags ?? []) as string[],
    containers: containers as { class_name: string }[],
    modules: [...parts.keys()],
    etag: randomBytes(16).toString("hex"),
    tag: script?.tag ?? randomBytes(16).toString("hex"),
    code_update_strategy: metadata.code_update_strategy as FakeScript["code_update_strategy"],
  };
  const version = addVersion(
    stored,
    state,
    { source, triggeredBy: "upload", bindings: [...declared, ...keptBindings(script, metadata, declared)] },
    true,
  );
  state.scripts.set(name, stored);
  state.onScriptUpload?.(name, upload);
  return {
    status: 200,
    result: {
      id: name,
      etag: stored.etag,
      migration_tag: stored.migration_tag,
      has_modules: true,
      startup_time_ms: 5,
      // The version this upload made and deployed; wrangler reads the namespace from it.
      deployment_id: version.id,
    },
  };
}

/**
 * `keep_bindings`: binding types the upload keeps from the deployed Worker when it does not name them
 * itself (docs: workers/configuration/multipart-upload-metadata, "keep_bindings"). Wrangler sends
 * ["secret_text", "secret_key"], so a `wrangler secret put` survives its next deploy; an upload without it
 * drops every binding it does not declare.
 */
function keptBindings(
  script: FakeScript | undefined,
  metadata: Record<string, unknown>,
  declared: StoredBinding[],
): StoredBinding[] {
  const keep = (metadata.keep_bindings ?? []) as string[];
  return (script?.bindings ?? []).filter(
    (binding) => keep.includes(binding.type) && !declared.some((each) => each.name === binding.name),
  );
}

/**
 * `code_update_strategy` (docs: durable-objects/deployments/durable-objects-code-updates): mode `deferred`
 * (max_delay up to 86400 s) or `immediate`; without one, active Durable Objects defer for 300 s.
 */
function codeUpdateStrategyProblem(strategy: unknown): string | undefined {
  if (strategy === undefined) return undefined;
  const { mode, max_delay: maxDelay, ...rest } = strategy as Record<string, unknown>;
  if (Object.keys(rest).length)
    return `code_update_strategy has unknown fields: ${Object.keys(rest).join(", ")}`;
  if (mode !== "immediate" && mode !== "deferred")
    return "code_update_strategy.mode must be immediate or deferred";
  if (maxDelay !== undefined && (typeof maxDelay !== "number" || maxDelay < 0 || maxDelay > 86400))
    return "code_update_strategy.max_delay must be between 0 and 86400 seconds";
  return undefined;
}

/** The script's settings; secret values are never returned (docs: "secret_text ... not readable"). */
function settings(script: FakeScript): Reply {
  return {
    status: 200,
    result: {
      bindings: (script.bindings ?? []).map(shownBinding),
      compatibility_date: script.compatibility_date,
      compatibility_flags: script.compatibility_flags,
      observability: { enabled: true },
    },
  };
}

// Five fields, minute to day of week (docs: workers/configuration/cron-triggers, "Supported cron expressions").
const CRON = /^(\S+\s+){4}\S+$/;

function scriptRoute(
  method: string,
  name: string,
  rest: string,
  body: unknown,
  state: WorkersState,
): Reply | undefined {
  const script = state.scripts.get(name);
  if (!script)
    return {
      status: 404,
      errors: [{ code: 10007, message: `This Worker (${name}) does not exist on your account.` }],
    };
  if (rest === "/settings" && method === "GET") return settings(script);
  if (rest === "/subdomain" && method === "GET")
    return { status: 200, result: script.subdomain ?? { enabled: false, previews_enabled: false } };
  if (rest === "/subdomain" && method === "POST") {
    const { enabled, previews_enabled: previews } = body as { enabled?: unknown; previews_enabled?: unknown };
    if (typeof enabled !== "boolean") return invalid(10021, "enabled must be a boolean");
    script.subdomain = { enabled, previews_enabled: previews === true };
    return { status: 200, result: script.subdomain };
  }
  if (rest === "/schedules" && method === "GET")
    return { status: 200, result: { schedules: script.schedules ?? [] } };
  if (rest === "/schedules" && method === "PUT") {
    const schedules = body as { cron?: unknown }[];
    if (
      !Array.isArray(schedules) ||
      !schedules.every((each) => typeof each.cron === "string" && CRON.test(each.cron))
    )
      return invalid(10100, "each schedule needs a cron expression of five fields");
    script.schedules = schedules as { cron: string }[];
    return { status: 200, result: { schedules: script.schedules } };
  }
  if (rest === "" && method === "DELETE") {
    state.scripts.delete(name);
    state.namespaces.splice(
      0,
      state.namespaces.length,
      ...state.namespaces.filter((each) => each.script !== name),
    );
    state.domains.splice(0, state.domains.length, ...state.domains.filter((each) => each.service !== name));
    return { status: 200, result: {} };
  }
  return undefined;
}

// Custom domains: one Worker per hostname; a hostname needs a zone on the account (docs:
// workers/configuration/routing/custom-domains). The stand-in accepts any hostname with a dot.
function putDomain(body: Record<string, unknown>, state: WorkersState): Reply {
  const { hostname, service, environment = "production", zone_id: zoneId } = body;
  if (typeof hostname !== "string" || !hostname.includes("."))
    return invalid(100117, "hostname must be a domain name");
  if (typeof service !== "string" || !state.scripts.has(service))
    return invalid(100114, `service ${String(service)} is not a Worker on this account`);
  const existing = state.domains.find((each) => each.hostname === hostname);
  const domain = {
    id: existing?.id ?? `domain-${randomBytes(6).toString("hex")}`,
    hostname,
    service,
    environment: String(environment),
    ...(typeof zoneId === "string" ? { zone_id: zoneId } : {}),
  };
  if (existing) Object.assign(existing, domain);
  else state.domains.push(domain);
  return { status: 200, result: domain };
}

/** Cloudflare's v4 page pagination: `page`, `per_page`, and `result_info` with the totals. */
export function page(items: unknown[], query: URLSearchParams, defaultPerPage = 20): Reply {
  const number = Math.max(1, Number(query.get("page") ?? "1"));
  const perPage = Math.max(1, Number(query.get("per_page") ?? String(defaultPerPage)));
  const result = items.slice((number - 1) * perPage, number * perPage);
  return {
    status: 200,
    result,
    resultInfo: {
      page: number,
      per_page: perPage,
      count: result.length,
      total_count: items.length,
      total_pages: Math.ceil(items.length / perPage),
    },
  };
}

/** `source` is who calls: "wrangler" for wrangler's User-Agent, "api" for any other client. */
export function workersRoute(
  method: string,
  path: string,
  body: unknown,
  source: string,
  state: WorkersState,
): Reply | undefined {
  if (method === "GET" && path === "workers/subdomain")
    return { status: 200, result: { subdomain: state.accountSubdomain } };
  // One page: the SDK types this list as a single page (workers/domains.d.ts, SinglePage).
  if (method === "GET" && path === "workers/domains") return { status: 200, result: state.domains };
  if (method === "PUT" && path === "workers/domains")
    return putDomain(body as Record<string, unknown>, state);
  // Durable Object class lifecycle changes cannot travel in a version (docs: gradual deployments with
  // Durable Objects; workers-sdk #15387).
  if (
    method === "POST" &&
    /^workers\/scripts\/[^/]+\/versions$/.test(path) &&
    (body as Upload).metadata?.migrations
  )
    return invalid(
      10211,
      "Version upload failed: migrations are not supported with gradual deployments. Use a non-versioned script upload.",
    );
  const versioned = versionsRoute(method, path, body, source, state);
  if (versioned) return versioned;
  const scriptPath = /^workers\/scripts\/([^/]+)(\/settings|\/subdomain|\/schedules)?$/.exec(path);
  if (!scriptPath) return undefined;
  if (method === "PUT" && scriptPath[2] === undefined)
    return uploadScript(scriptPath[1], body as Upload, source, state);
  return scriptRoute(method, scriptPath[1], scriptPath[2] ?? "", body, state);
}
