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

/** Credentials that change the deployment or read a deploy credential: deploy.yml's `alpha` job alone holds them. */
export const DEPLOY_SECRETS = [
  "PULUMI_ACCESS_TOKEN",
  "CLOUDFLARE_API_TOKEN",
  "GITHUB_ENVIRONMENTS_TOKEN",
  "OP_SERVICE_ACCOUNT_TOKEN",
];

/** A GitHub Actions expression as a workflow file spells it: `${{ ... }}`. */
const expression = (inner: string) => `\${{ ${inner} }}`;

const secretsUsed = (job: Json) =>
  [...JSON.stringify(job).matchAll(/secrets\.([A-Z0-9_]+)/g)].map((m) => m[1]);

/**
 * The trust model of README "Who holds which credential", checked over the workflow files:
 * - a pull_request job runs the PR's own code, so it holds no deploy credential, receives secrets only in
 *   the reviewed `alpha-preview` environment, and leaves Dependabot PRs (which get no secrets; platform
 *   facts) to a job that needs none;
 * - deploy credentials live in the `alpha` environment only;
 * - deploy.yml runs for a main commit whose CI passed, and deploys exactly that commit;
 * - CI on main is never cancelled half-way.
 */
export function trustProblems(workflows: Record<string, Json>): string[] {
  const problems: string[] = [];
  for (const [file, workflow] of Object.entries(workflows)) {
    const triggers = Object.keys((workflow.on ?? {}) as Json);
    const fromPullRequests = triggers.some((trigger) => trigger.startsWith("pull_request"));
    const jobs = Object.entries((workflow.jobs ?? {}) as Record<string, Json>);
    for (const [name, job] of jobs) {
      const used = secretsUsed(job);
      for (const secret of used.filter((each) => DEPLOY_SECRETS.includes(each))) {
        if (fromPullRequests)
          problems.push(`${file} ${name}: a pull_request job holds the deploy credential ${secret}`);
        else if (job.environment !== "alpha")
          problems.push(`${file} ${name}: holds ${secret} outside the alpha environment`);
      }
      if (!fromPullRequests || used.length === 0) continue;
      if (job.environment !== "alpha-preview")
        problems.push(`${file} ${name}: gets secrets without the reviewed alpha-preview environment`);
      if (!String(job.if ?? "").includes("user.login != 'dependabot[bot]'"))
        problems.push(`${file} ${name}: needs secrets that Dependabot PRs never get; exclude them`);
    }
    const needsSecrets = jobs.some(([, job]) => secretsUsed(job).length > 0);
    const dependabotPath = jobs.some(
      ([, job]) =>
        secretsUsed(job).length === 0 && String(job.if ?? "").includes("user.login == 'dependabot[bot]'"),
    );
    if (fromPullRequests && needsSecrets && !dependabotPath)
      problems.push(`${file}: Dependabot PRs have no credential-free job`);
  }
  const deploy = (workflows["deploy.yml"] ?? {}) as Json;
  const on = (deploy.on ?? {}) as Json;
  const run = on.workflow_run as { workflows?: string[]; branches?: string[] } | undefined;
  if (
    !run ||
    Object.keys(on).length !== 1 ||
    run.workflows?.join() !== "ci" ||
    run.branches?.join() !== "main"
  )
    problems.push("deploy.yml: must start only from the ci workflow's runs on main");
  const job = ((deploy.jobs ?? {}) as Record<string, Json>).deploy ?? {};
  if (!String(job.if ?? "").includes("github.event.workflow_run.conclusion == 'success'"))
    problems.push("deploy.yml: must deploy only when that CI run succeeded");
  const checkout = stepUsing(job, "actions/checkout");
  if ((checkout?.with as Json | undefined)?.ref !== expression("github.event.workflow_run.head_sha"))
    problems.push("deploy.yml: must check out the commit CI tested (workflow_run.head_sha)");
  const concurrency = ((workflows["ci.yml"] ?? {}) as Json).concurrency as Json | undefined;
  if (String(concurrency?.["cancel-in-progress"]) !== expression("github.event_name == 'pull_request'"))
    problems.push("ci.yml: a run on main must never be cancelled half-way");
  return problems;
}

const stepUsing = (job: Json, action: string) =>
  ((job.steps ?? []) as Json[]).find((step) => String(step.uses).startsWith(action));

/** The release SBOM is the deployed image's: generated from the digest the deploy pushed, never rebuilt. */
export function sbomProblems(workflows: Record<string, Json>): string[] {
  const problems: string[] = [];
  const jobsOf = (file: string) => Object.values(((workflows[file] ?? {}) as Json).jobs ?? {}) as Json[];
  if (
    jobsOf("generate-sbom.yml").some((job) =>
      /docker (buildx )?build|build-push-action/.test(JSON.stringify(job)),
    )
  )
    problems.push("generate-sbom.yml: builds an image; the SBOM must come from the deployed digest");
  if (
    !jobsOf("generate-sbom.yml").some((job) =>
      JSON.stringify(job).includes("python3 .github/scripts/deploy_run.py"),
    )
  )
    problems.push(
      "generate-sbom.yml: must take the artifact only from a run .github/scripts/deploy_run.py accepts as the deploy",
    );
  const deploy =
    (((workflows["deploy.yml"] ?? {}) as Json).jobs as Record<string, Json> | undefined)?.deploy ?? {};
  const sbom = (stepUsing(deploy, "anchore/sbom-action")?.with ?? {}) as Json;
  if (sbom.image !== expression("steps.up.outputs.imageDigest"))
    problems.push(
      "deploy.yml: the SBOM must be generated from steps.up.outputs.imageDigest, the digest the deploy pushed",
    );
  const kept = (stepUsing(deploy, "actions/upload-artifact")?.with ?? {}) as Json;
  if (kept.name !== `sbom-${expression("github.event.workflow_run.head_sha")}`)
    problems.push(
      "deploy.yml: the SBOM artifact must be named for the deployed commit, sbom-<workflow_run.head_sha>",
    );
  return problems;
}
