/**
 * Checks of the repository's automation files beyond their JSON Schemas: the local compose file (ADR-049
 * D4), Dependabot's coverage of the base images (D7), and the workflows' pinning and permissions. Each
 * returns its problems, so a test shows what broke.
 */
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import Ajv from "ajv";
import { parse } from "yaml";
import { REPO_ROOT } from "./alpha";

type Json = Record<string, unknown>;

/** Parses YAML as the tools do (compose honours `<<` merge keys). */
export function readYaml(path: string): Json {
  return parse(readFileSync(path, "utf8"), { merge: true }) as Json;
}

/** ajv errors of `data` against a schema in tests/schemas, as "path: message" lines. */
export function schemaProblems(schemaFile: string, data: unknown): string[] {
  const schema = JSON.parse(readFileSync(join(REPO_ROOT, "tests/schemas", schemaFile), "utf8"));
  const validate = new Ajv({ strict: false, validateSchema: false, allErrors: true }).compile(schema);
  return validate(data)
    ? []
    : (validate.errors ?? []).map((error) => `${error.instancePath || "/"}: ${error.message}`);
}

const DEFAULT_SERVICES = ["api", "workers"];
const FRONTEND_SERVICES = ["dashboard", "operations"];
/** `pnpm dev` defaults: the API on 8000, the dashboard on 3000, operations on 3001. */
const DEV_PORTS: Record<string, string | undefined> = {
  api: "8000:8000",
  dashboard: "3000:3000",
  operations: "3001:3001",
};

export function composeProblems(compose: Json, composeDir: string, envExample: string): string[] {
  const problems: string[] = [];
  const services = (compose.services ?? {}) as Record<string, Json>;
  const inProfile = (profile: string | undefined) =>
    Object.keys(services)
      .filter((name) => {
        const profiles = (services[name].profiles as string[] | undefined) ?? [];
        return profile === undefined ? profiles.length === 0 : profiles.includes(profile);
      })
      .sort();
  if (JSON.stringify(inProfile(undefined)) !== JSON.stringify(DEFAULT_SERVICES))
    problems.push(`default services are ${inProfile(undefined).join(", ")}, not api and workers`);
  if (JSON.stringify(inProfile("frontend")) !== JSON.stringify(FRONTEND_SERVICES))
    problems.push(
      `the frontend profile adds ${inProfile("frontend").join(", ")}, not dashboard and operations`,
    );
  for (const [name, service] of Object.entries(services)) {
    const build = service.build as { context?: string; dockerfile?: string } | undefined;
    const context = resolve(composeDir, build?.context ?? ".");
    if (context !== REPO_ROOT) problems.push(`${name}: build context is ${context}, not the repository root`);
    if (!build?.dockerfile || !existsSync(join(context, build.dockerfile)))
      problems.push(`${name}: build.dockerfile ${build?.dockerfile} does not exist`);
    if (service.volumes)
      problems.push(`${name}: mounts volumes; compose runs the built image, not the source`);
    if (!JSON.stringify(service.extra_hosts ?? []).includes("host.docker.internal:host-gateway"))
      problems.push(`${name}: no extra_hosts host.docker.internal:host-gateway`);
    if (JSON.stringify(service.env_file) !== '".env"') problems.push(`${name}: env_file is not .env`);
    if (!service.healthcheck) problems.push(`${name}: no healthcheck`);
    const ports = (service.ports as string[] | undefined) ?? [];
    if (JSON.stringify(ports) !== JSON.stringify(DEV_PORTS[name] ? [DEV_PORTS[name]] : []))
      problems.push(`${name}: ports ${JSON.stringify(ports)} differ from the pnpm dev defaults`);
  }
  const declared = new Set([...envExample.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]));
  const used = [...JSON.stringify(compose).matchAll(/\$\{([A-Z][A-Z0-9_]*)/g)].map((match) => match[1]);
  for (const variable of new Set(used))
    if (!declared.has(variable)) problems.push(`\${${variable}} is used but .env.example does not list it`);
  return problems;
}

/** Glob patterns as Dependabot reads them: `*` matches any run of characters. */
const matches = (pattern: string, name: string) =>
  new RegExp(
    `^${pattern
      .split("*")
      .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, "\\$&"))
      .join(".*")}$`,
  ).test(name);

/** Base images of the Dockerfiles (registry/name without tag), e.g. python, node, ghcr.io/astral-sh/uv. */
export function dockerfileImageFamilies(dockerfiles: string[]): string[] {
  const images = dockerfiles.flatMap((text) =>
    [...text.matchAll(/^FROM\s+(?:--platform=\S+\s+)?([^\s:@]+)/gm)].map((match) => match[1]),
  );
  return [...new Set(images)].sort();
}

export function dependabotProblems(config: Json, imageFamilies: string[]): string[] {
  const updates = (config.updates ?? []) as Json[];
  const docker = updates.find((update) => update["package-ecosystem"] === "docker");
  if (!docker) return ["no docker updates"];
  const problems: string[] = [];
  if (docker.directory !== "/infra/docker")
    problems.push(`docker updates watch ${docker.directory}, not /infra/docker`);
  const groups = Object.values((docker.groups ?? {}) as Record<string, { patterns?: string[] }>);
  for (const family of imageFamilies) {
    const names = [family, family.replace(/^[^/]+\.[^/]+\//, "")];
    if (
      !groups.some((group) =>
        (group.patterns ?? []).some((pattern) => names.some((name) => matches(pattern, name))),
      )
    )
      problems.push(`base image ${family} is in no docker group`);
  }
  const ignores = (docker.ignore ?? []) as { "dependency-name": string; "update-types"?: string[] }[];
  for (const pinned of ["python", "node"]) {
    const types = ignores.find((rule) => rule["dependency-name"] === pinned)?.["update-types"] ?? [];
    if (!types.includes("version-update:semver-major") || !types.includes("version-update:semver-minor"))
      problems.push(`${pinned} may jump minor or major versions`);
  }
  for (const ecosystem of ["github-actions", "npm"])
    if (!updates.some((update) => update["package-ecosystem"] === ecosystem))
      problems.push(`no ${ecosystem} updates`);
  for (const update of updates)
    if ((update.schedule as Json | undefined)?.interval !== "monthly")
      problems.push(`${update["package-ecosystem"]} updates are not monthly`);
  return problems;
}

/** Least privilege and pinning: top-level permissions, and every third-party action by commit SHA. */
export function workflowProblems(workflow: Json): string[] {
  const problems: string[] = [];
  if (!workflow.permissions) problems.push("no top-level permissions");
  for (const [name, job] of Object.entries((workflow.jobs ?? {}) as Record<string, Json>)) {
    for (const step of (job.steps ?? []) as Json[]) {
      const uses = step.uses as string | undefined;
      if (uses && !uses.startsWith("./") && !/@[0-9a-f]{40}$/.test(uses))
        problems.push(`${name}: ${uses} is not pinned by commit SHA`);
    }
  }
  return problems;
}
