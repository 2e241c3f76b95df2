import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/alpha";

const SCRIPT = join(REPO_ROOT, "infra/docker/build-version.sh");
let repo: string;

function git(...args: string[]): string {
  return execFileSync("git", args, { cwd: repo, encoding: "utf8" }).trim();
}

function buildVersion(env: Record<string, string> = {}, cwd = repo) {
  const result = spawnSync("bash", [SCRIPT, join(cwd, "out/version.json")], {
    cwd,
    encoding: "utf8",
    env: { ...process.env, ...env },
  });
  const file = join(cwd, "out/version.json");
  return {
    status: result.status,
    stderr: result.stderr,
    text: result.status === 0 ? readFileSync(file, "utf8") : "",
  };
}

beforeEach(() => {
  repo = mkdtempSync(join(tmpdir(), "build-version-"));
  git("init", "-q", "-b", "main");
  git("config", "user.email", "test@example.com");
  git("config", "user.name", "test");
  mkdirSync(join(repo, "reference-app/python"), { recursive: true });
  writeFileSync(join(repo, "reference-app/python/uv.lock"), "uv lock\n");
  writeFileSync(join(repo, "pnpm-lock.yaml"), "pnpm lock\n");
  writeFileSync(join(repo, ".gitignore"), "out/\n");
  git("add", "-A");
  execFileSync("git", ["commit", "-q", "-m", "first"], {
    cwd: repo,
    env: {
      ...process.env,
      GIT_COMMITTER_DATE: "2026-11-01T10:00:00Z",
      GIT_AUTHOR_DATE: "2026-11-01T10:00:00Z",
    },
  });
});

const sha256 = (text: string) => execFileSync("sha256sum", { input: text, encoding: "utf8" }).split(" ")[0];

describe("infra/docker/build-version.sh", () => {
  it("writes every field of version.json, built_at being the commit time", () => {
    const { status, text } = buildVersion();
    expect(status).toBe(0);
    const sha = git("rev-parse", "HEAD");
    expect(JSON.parse(text)).toEqual({
      sha,
      short_sha: sha.slice(0, 12),
      describe: sha.slice(0, 12),
      built_at: "2026-11-01T10:00:00Z",
      uv_lock_sha: sha256("uv lock\n"),
      pnpm_lock_sha: sha256("pnpm lock\n"),
    });
  });

  it("is deterministic: the same commit gives byte-identical output at another time", async () => {
    const first = buildVersion().text;
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(buildVersion().text).toBe(first);
  });

  it("shows a dirty tree in describe, and a tag when there is one", () => {
    git("tag", "v1.2.3");
    expect(JSON.parse(buildVersion().text).describe).toBe("v1.2.3");
    writeFileSync(join(repo, "pnpm-lock.yaml"), "changed\n");
    expect(JSON.parse(buildVersion().text).describe).toBe("v1.2.3-dirty");
  });

  it("honours SOURCE_DATE_EPOCH and records a missing lockfile as null", () => {
    const { text } = buildVersion({ SOURCE_DATE_EPOCH: "0", UV_LOCK: "no/such.lock" });
    expect(JSON.parse(text)).toMatchObject({ built_at: "1970-01-01T00:00:00Z", uv_lock_sha: null });
    expect(buildVersion({ SOURCE_DATE_EPOCH: "yesterday" }).stderr).toBe(
      "build-version.sh: SOURCE_DATE_EPOCH must be seconds since 1970, not 'yesterday'\n",
    );
  });

  it("fails clearly outside a git checkout", () => {
    const outside = mkdtempSync(join(tmpdir(), "not-a-repo-"));
    const { status, stderr } = buildVersion({ GIT_CEILING_DIRECTORIES: outside }, outside);
    expect(status).toBe(1);
    expect(stderr).toBe(
      "build-version.sh: not inside a git checkout (run it from the repository, where git can see the commit being built)\n",
    );
  });
});
