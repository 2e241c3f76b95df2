// infra/local/compose.yml, .github/dependabot.yml and .github/workflows: schemas, semantics, linters, and
// a broken copy of each that must fail.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { REPO_ROOT } from "./support/alpha";
import {
  composeProblems,
  dependabotProblems,
  dockerfileImageFamilies,
  readYaml,
  sbomProblems,
  schemaProblems,
  trustProblems,
  workflowProblems,
} from "./support/repo-automation";

const COMPOSE_DIR = join(REPO_ROOT, "infra/local");
const compose = readYaml(join(COMPOSE_DIR, "compose.yml"));
const envExample = readFileSync(join(COMPOSE_DIR, ".env.example"), "utf8");
const dependabot = readYaml(join(REPO_ROOT, ".github/dependabot.yml"));
const dockerfiles = readdirSync(join(REPO_ROOT, "infra/docker"))
  .filter((name) => name.endsWith(".Dockerfile"))
  .map((name) => readFileSync(join(REPO_ROOT, "infra/docker", name), "utf8"));
const families = dockerfileImageFamilies(dockerfiles);
const WORKFLOWS = readdirSync(join(REPO_ROOT, ".github/workflows")).filter((name) => name.endsWith(".yml"));
const copy = <T>(value: T): T => structuredClone(value);

describe("infra/local/compose.yml", () => {
  it("is valid against the Compose Specification schema", () => {
    expect(schemaProblems("compose-spec.json", compose)).toEqual([]);
  });

  it("runs api and workers by default, adds dashboard and operations with the frontend profile, builds from the repo root with no source mounts, reaches host PostgreSQL, and has healthchecks", () => {
    expect(composeProblems(compose, COMPOSE_DIR, envExample)).toEqual([]);
  });

  it("publishes the ports the pnpm dev scripts use, so the two flows stay interchangeable", () => {
    const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts as Record<
      string,
      string
    >;
    const devPorts = {
      api: /--port (\d+)/.exec(scripts["dev:api"])?.[1],
      dashboard: /, (\d+)\);/.exec(
        readFileSync(join(REPO_ROOT, "reference-app/dashboard/server.js"), "utf8"),
      )?.[1],
      operations: /, (\d+)\);/.exec(
        readFileSync(join(REPO_ROOT, "reference-app/operations/server.js"), "utf8"),
      )?.[1],
    };
    const services = compose.services as Record<string, { ports: string[] }>;
    for (const [service, port] of Object.entries(devPorts))
      expect(services[service].ports).toEqual([`${port}:${port}`]);
  });

  it(".env.example lists every variable with a value, and the real .env is gitignored", () => {
    expect(envExample).toMatch(/^API_DATABASE_URL=postgresql:\/\/[^\n]*@host\.docker\.internal:54322\//m);
    const check = spawnSync("git", ["check-ignore", "-q", "infra/local/.env"], { cwd: REPO_ROOT });
    expect(check.status).toBe(0);
  });

  it("a broken copy fails: invalid against the schema", () => {
    const broken = copy(compose) as { services: Record<string, Record<string, unknown>> };
    broken.services.api.ports = "8000:8000";
    expect(schemaProblems("compose-spec.json", broken)).not.toEqual([]);
  });

  it.each([
    [
      "a source volume mount",
      (c: any) => (c.services.api.volumes = ["../../reference-app:/app/src"]),
      "api: mounts volumes; compose runs the built image, not the source",
    ],
    [
      "a missing Dockerfile",
      (c: any) => (c.services.workers.build.dockerfile = "infra/docker/gone.Dockerfile"),
      "workers: build.dockerfile infra/docker/gone.Dockerfile does not exist",
    ],
    [
      "a variable .env.example lacks",
      (c: any) => (c.services.api.environment.LOG_LEVEL = "${LOG_LEVEL}"),
      "${LOG_LEVEL} is used but .env.example does not list it",
    ],
    [
      "dashboard by default",
      (c: any) => delete c.services.dashboard.profiles,
      "default services are api, dashboard, workers, not api and workers",
    ],
  ])("a broken copy fails: %s", (_case, breakIt, problem) => {
    const broken = copy(compose);
    breakIt(broken);
    expect(composeProblems(broken, COMPOSE_DIR, envExample)).toContain(problem);
  });
});

describe(".github/dependabot.yml", () => {
  it("is valid against the Dependabot v2 schema", () => {
    expect(schemaProblems("dependabot-2.0.json", dependabot)).toEqual([]);
  });

  it("groups every base image family of infra/docker, keeps Python on 3.14 and Node on 24, and runs monthly", () => {
    expect(families).toEqual(["ghcr.io/astral-sh/uv", "node", "python"]);
    expect(dependabotProblems(dependabot, families)).toEqual([]);
  });

  it("a broken copy fails: invalid against the schema", () => {
    const broken = copy(dependabot) as { updates: { schedule: { interval: string } }[] };
    broken.updates[0].schedule.interval = "fortnightly";
    expect(schemaProblems("dependabot-2.0.json", broken)).not.toEqual([]);
  });

  it("a broken copy fails: a base image family without a group", () => {
    const broken = copy(dependabot) as { updates: { groups?: Record<string, unknown> }[] };
    delete broken.updates[0].groups?.astral;
    expect(dependabotProblems(broken, families)).toEqual([
      "base image ghcr.io/astral-sh/uv is in no docker group",
    ]);
  });
});

describe(".github/workflows", () => {
  it.each(WORKFLOWS)("%s sets permissions and pins every action by commit SHA", (name) => {
    expect(workflowProblems(readYaml(join(REPO_ROOT, ".github/workflows", name)))).toEqual([]);
  });

  it("has the four workflows: ci, preview, deploy, generate-sbom", () => {
    expect(WORKFLOWS.sort()).toEqual(["ci.yml", "deploy.yml", "generate-sbom.yml", "preview.yml"]);
  });

  const workflows = () =>
    Object.fromEntries(WORKFLOWS.map((name) => [name, readYaml(join(REPO_ROOT, ".github/workflows", name))]));

  it("keeps deploy credentials from unreviewed code: the README's trust model holds (#15 items 2 and 3)", () => {
    expect(trustProblems(workflows())).toEqual([]);
  });

  it.each([
    [
      "a preview given the deploy's 1Password token",
      (w: any) =>
        (w["preview.yml"].jobs.preview.steps.at(-1).env.OP_SERVICE_ACCOUNT_TOKEN =
          "${{ secrets.OP_SERVICE_ACCOUNT_TOKEN }}"),
      "preview.yml preview: a pull_request job holds the deploy credential OP_SERVICE_ACCOUNT_TOKEN",
    ],
    [
      "a preview outside the reviewed environment",
      (w: any) => delete w["preview.yml"].jobs.preview.environment,
      "preview.yml preview: gets secrets without the reviewed alpha-preview environment",
    ],
    [
      "a preview that Dependabot PRs would run",
      (w: any) =>
        (w["preview.yml"].jobs.preview.if =
          "github.event.pull_request.head.repo.full_name == github.repository"),
      "preview.yml preview: needs secrets that Dependabot PRs never get; exclude them",
    ],
    [
      "no job for Dependabot",
      (w: any) => delete w["preview.yml"].jobs["offline-plan"],
      "preview.yml: Dependabot PRs have no credential-free job",
    ],
    [
      "deploying on push, before CI",
      (w: any) => (w["deploy.yml"].on = { push: { branches: ["main"] } }),
      "deploy.yml: must start only from the ci workflow's runs on main",
    ],
    [
      "deploying whatever CI concluded",
      (w: any) => (w["deploy.yml"].jobs.deploy.if = "github.event.workflow_run.event == 'push'"),
      "deploy.yml: must deploy only when that CI run succeeded",
    ],
    [
      "deploying the default branch's head instead of the tested commit",
      (w: any) => delete w["deploy.yml"].jobs.deploy.steps[0].with.ref,
      "deploy.yml: must check out the commit CI tested (workflow_run.head_sha)",
    ],
    [
      "cancelling CI on main",
      (w: any) => (w["ci.yml"].concurrency["cancel-in-progress"] = true),
      "ci.yml: a run on main must never be cancelled half-way",
    ],
  ])("a broken copy fails: %s", (_what, breakIt, problem) => {
    const broken = workflows();
    breakIt(broken);
    expect(trustProblems(broken)).toEqual([problem]);
  });

  it("deploys from main only, in the alpha environment, never two at once; SBOMs run on v* tags only", () => {
    const deploy = readYaml(join(REPO_ROOT, ".github/workflows/deploy.yml")) as any;
    expect(deploy.on).toEqual({
      workflow_run: { workflows: ["ci"], types: ["completed"], branches: ["main"] },
    });
    expect(deploy.concurrency).toEqual({ group: "deploy-alpha", "cancel-in-progress": false });
    expect(deploy.jobs.deploy.environment).toBe("alpha");
    const sbom = readYaml(join(REPO_ROOT, ".github/workflows/generate-sbom.yml")) as any;
    expect(sbom.on).toEqual({ push: { tags: ["v*"] } });
  });

  it("describes with the SBOM the image the deploy pushed, by its digest, and never rebuilds it (#15 item 12)", () => {
    expect(sbomProblems(workflows())).toEqual([]);
  });

  it.each([
    [
      "an SBOM of a rebuild",
      (w: any) => w["generate-sbom.yml"].jobs.sbom.steps.unshift({ run: "docker buildx build -t app ." }),
      "generate-sbom.yml: builds an image; the SBOM must come from the deployed digest",
    ],
    [
      "an SBOM of whatever the registry tag points at now",
      (w: any) => {
        w["deploy.yml"].jobs.deploy.steps.find((s: any) => s.uses?.startsWith("anchore/")).with.image =
          "app:latest";
      },
      "deploy.yml: the SBOM must be generated from steps.up.outputs.imageDigest, the digest the deploy pushed",
    ],
    [
      "an SBOM kept under another commit's name",
      (w: any) => {
        w["deploy.yml"].jobs.deploy.steps.find((s: any) =>
          s.uses?.startsWith("actions/upload-artifact"),
        ).with.name = "sbom";
      },
      "deploy.yml: the SBOM artifact must be named for the deployed commit, sbom-<workflow_run.head_sha>",
    ],
  ])("a broken copy fails: %s", (_what, breakIt, problem) => {
    const broken = workflows();
    breakIt(broken);
    expect(sbomProblems(broken)).toEqual([problem]);
  });

  it("publishes an SBOM only from the deploy's own run: an artifact of the same name from another workflow, a PR run, a fork or a failed deploy is refused (#21)", () => {
    const judge = (run: Record<string, unknown>) =>
      spawnSync("python3", [join(REPO_ROOT, ".github/scripts/deploy_run.py"), "spectral-hq/spectral"], {
        input: JSON.stringify(run),
        encoding: "utf8",
      });
    const deploy = {
      id: 1,
      path: ".github/workflows/deploy.yml",
      event: "workflow_run",
      head_branch: "main",
      head_repository: { full_name: "spectral-hq/spectral" },
      conclusion: "success",
    };
    expect(judge(deploy).status).toBe(0);
    const refused: [Record<string, unknown>, string][] = [
      [
        { path: ".github/workflows/ci.yml" },
        "it is a run of .github/workflows/ci.yml, not .github/workflows/deploy.yml",
      ],
      [
        {
          event: "pull_request",
          head_branch: "add-sbom",
          head_repository: { full_name: "mallory/spectral" },
        },
        "it was started by pull_request, not by CI's completion; it ran for add-sbom, not main; it ran code from mallory/spectral, not spectral-hq/spectral",
      ],
      [{ conclusion: "failure" }, "it ended failure, not success"],
    ];
    for (const [change, reason] of refused) {
      const verdict = judge({ ...deploy, ...change });
      expect(verdict.status, reason).toBe(1);
      expect(verdict.stderr.trim()).toBe(`run 1 is not the deploy: ${reason}`);
    }
  });

  it("runs one Pulumi CLI version: the one scripts/install-pulumi.sh builds and the engine suite proves, also in the README and docs", () => {
    const proven = /^version=v(\S+)$/m.exec(
      readFileSync(join(REPO_ROOT, "scripts/install-pulumi.sh"), "utf8"),
    )?.[1];
    expect(proven).toMatch(/^3\.\d+\.\d+$/);
    const mentions = [
      ...WORKFLOWS.map((name) => join(".github/workflows", name)),
      "README.md",
      ...readdirSync(join(REPO_ROOT, "docs")).map((name) => join("docs", name)),
      ...readdirSync(join(REPO_ROOT, "tests/engine")).map((name) => join("tests/engine", name)),
    ].flatMap((file) =>
      [
        ...readFileSync(join(REPO_ROOT, file), "utf8").matchAll(
          /(?:pulumi-version: |Pulumi CLI v|CLI v)(3\.\d+\.\d+)/g,
        ),
      ].map((match) => `${file}: ${match[1]}`),
    );
    expect(mentions.filter((mention) => mention.includes(".github/workflows"))).toHaveLength(2);
    expect(mentions.filter((mention) => !mention.endsWith(`: ${proven}`))).toEqual([]);
  });

  it("a broken copy fails: an action pinned by tag", () => {
    const broken = readYaml(join(REPO_ROOT, ".github/workflows/deploy.yml")) as any;
    broken.jobs.deploy.steps[0].uses = "actions/checkout@v4";
    expect(workflowProblems(broken)).toEqual(["deploy: actions/checkout@v4 is not pinned by commit SHA"]);
  });

  it("a broken copy fails actionlint and zizmor: untrusted input in a script, an unpinned action, no permissions", () => {
    const dir = mkdtempSync(join(tmpdir(), "broken-workflow-"));
    mkdirSync(join(dir, ".github/workflows"), { recursive: true });
    const file = join(dir, ".github/workflows/broken.yml");
    writeFileSync(
      file,
      stringify({
        name: "broken",
        on: { pull_request_target: {} },
        jobs: {
          greet: {
            "runs-on": "ubuntu-24.04",
            steps: [
              { uses: "actions/checkout@v4", with: { ref: "${{ github.event.pull_request.head.sha }}" } },
              { run: 'echo "${{ github.event.pull_request.title }}"' },
            ],
          },
        },
      }),
    );
    const actionlint = spawnSync(join(REPO_ROOT, ".tools/bin/actionlint"), ["-no-color", file], {
      encoding: "utf8",
    });
    expect(actionlint.status, actionlint.stdout).not.toBe(0);
    const zizmor = spawnSync("zizmor", ["--offline", "--no-progress", file], { encoding: "utf8" });
    expect(zizmor.status).not.toBe(0);
    expect(zizmor.stdout).toMatch(/template-injection|unpinned-uses|dangerous-triggers/);
  });
});
