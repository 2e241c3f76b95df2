// Static conformance of infra/docker/*.Dockerfile to ADR-049 D2/D3/D5/D6, parsed with dockerfile-ast.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { BROKEN_DOCKERFILES } from "./fixtures/broken-dockerfiles";
import { REPO_ROOT } from "./support/alpha";
import {
  contextSources,
  DOCKERFILE_DIR,
  dockerfileNames,
  parseDockerfile,
  RULES,
  readDockerfile,
} from "./support/dockerfile-rules";

const NAMES = dockerfileNames(REPO_ROOT);
const source = (name: string) => readFileSync(join(REPO_ROOT, DOCKERFILE_DIR, name), "utf8");

it("has the five images of D1: app, api, workers, dashboard, operations", () => {
  expect(NAMES).toEqual([
    "api.Dockerfile",
    "app.Dockerfile",
    "dashboard.Dockerfile",
    "operations.Dockerfile",
    "workers.Dockerfile",
  ]);
});

describe.each(RULES.map((rule) => [rule.id, rule] as const))("rule %s", (_id, rule) => {
  it.each(NAMES)(`${rule.title}: %s`, (name) => {
    expect(rule.check(readDockerfile(REPO_ROOT, name))).toEqual([]);
  });
});

describe("broken copies", () => {
  it("cover every rule", () => {
    expect([...new Set(BROKEN_DOCKERFILES.map((broken) => broken.rule))].sort()).toEqual(
      RULES.map((rule) => rule.id).sort(),
    );
  });

  it.each(BROKEN_DOCKERFILES.map((broken) => [broken.rule, broken] as const))(
    "a copy broken for %s fails that rule and no other",
    (_rule, broken) => {
      const original = source(broken.base);
      const text = original.replace(broken.edit[0], broken.edit[1]);
      expect(text, "the edit no longer applies to the Dockerfile").not.toBe(original);
      const parsed = parseDockerfile(broken.base, text);
      const failing = RULES.filter((rule) => rule.check(parsed).length > 0).map((rule) => rule.id);
      expect(failing).toEqual([broken.rule]);
    },
  );
});

describe("images agree with each other", () => {
  it("pin each base to the same digest in every Dockerfile", () => {
    const digests = new Map<string, Set<string>>();
    for (const name of NAMES)
      for (const { from } of readDockerfile(REPO_ROOT, name).stages) {
        const base = `${from.getImageName()}:${from.getImageTag()}`;
        digests.set(base, (digests.get(base) ?? new Set()).add(from.getImageDigest() ?? ""));
      }
    for (const [base, seen] of digests) expect([base, [...seen]]).toEqual([base, [...seen].slice(0, 1)]);
  });

  it("the app image runs app_supervisor.py as PID 1", () => {
    expect(source("app.Dockerfile")).toMatch(/^CMD \["python", "\/app\/app_supervisor\.py"\]$/m);
  });

  it("the Node images install the pnpm that package.json pins, through corepack", () => {
    for (const name of ["dashboard.Dockerfile", "operations.Dockerfile"]) {
      expect(source(name)).toContain("corepack enable pnpm && corepack install");
    }
    expect(JSON.parse(source("../../package.json")).packageManager).toMatch(/^pnpm@\d+\.\d+\.\d+$/);
  });
});

describe(".dockerignore", () => {
  const ignoreFiles = [".dockerignore", `${DOCKERFILE_DIR}/app.Dockerfile.dockerignore`];

  it.each(ignoreFiles)("%s is an allowlist that keeps local env files, state and installs out", (file) => {
    const lines = readFileSync(join(REPO_ROOT, file), "utf8")
      .split("\n")
      .filter((line) => line && !line.startsWith("#"));
    expect(lines[0]).toBe("*");
    expect(
      lines
        .filter((line) => line.startsWith("!"))
        .some((line) => /\.env|\.pulumi|Pulumi\.|node_modules/.test(line)),
    ).toBe(false);
  });

  it.each(ignoreFiles)("%s lets in every file the Dockerfiles it serves copy or bind-mount", (file) => {
    const allowed = readFileSync(join(REPO_ROOT, file), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("!"))
      .map((line) => line.slice(1));
    const served =
      file === ".dockerignore" ? NAMES.filter((name) => name !== "app.Dockerfile") : ["app.Dockerfile"];
    for (const name of served) {
      const sources = contextSources(readDockerfile(REPO_ROOT, name));
      for (const path of sources) {
        expect(
          allowed.some((entry) => path === entry || path.startsWith(`${entry}/`)),
          `${name}: ${path}`,
        ).toBe(true);
        expect(
          existsSync(join(REPO_ROOT, path)) || path === "infra/docker/version.json",
          `${name}: ${path} exists`,
        ).toBe(true);
      }
    }
  });
});
