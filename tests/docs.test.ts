// The README and docs/ stay true to the tree: every relative link reaches a file (and a heading, when it
// names one), and every repository path they quote in backticks exists.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/alpha";

const DOCUMENTS = ["README.md", ...readdirSync(join(REPO_ROOT, "docs")).map((name) => `docs/${name}`)];
const TOP_LEVEL = new Set(readdirSync(REPO_ROOT));

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
function headingAnchor(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");
}

/** A file git ignores (`infra/local/.env`) is one the docs tell you to make. */
function ignored(path: string): boolean {
  return spawnSync("git", ["check-ignore", "--quiet", path], { cwd: REPO_ROOT }).status === 0;
}

function anchors(file: string): Set<string> {
  const text = readFileSync(file, "utf8");
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((match) => headingAnchor(match[1])));
}

describe("README and docs/", () => {
  it("computes GitHub's heading anchors", () => {
    expect(headingAnchor("Running the real `pulumi preview` / `pulumi up`")).toBe(
      "running-the-real-pulumi-preview--pulumi-up",
    );
    expect(headingAnchor("Faults: time limits, retries and errors")).toBe(
      "faults-time-limits-retries-and-errors",
    );
  });

  it.each(DOCUMENTS)(
    "%s: every relative link reaches a file in the repository, and its heading",
    (document) => {
      const broken: string[] = [];
      const text = readFileSync(join(REPO_ROOT, document), "utf8");
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split("#");
        const file = path ? resolve(dirname(join(REPO_ROOT, document)), path) : join(REPO_ROOT, document);
        // The design record lives beside the repository, not in it.
        if (relative(REPO_ROOT, file).startsWith("..")) continue;
        if (!existsSync(file)) broken.push(`${target}: no such file`);
        else if (anchor && !anchors(file).has(anchor)) broken.push(`${target}: no such heading`);
      }
      expect(broken).toEqual([]);
    },
  );

  it.each(DOCUMENTS)("%s: every repository path it quotes exists", (document) => {
    const text = readFileSync(join(REPO_ROOT, document), "utf8");
    const quoted = [...text.matchAll(/`([A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]*)`/g)].map((match) => match[1]);
    const missing = quoted.filter(
      (path) => TOP_LEVEL.has(path.split("/")[0]) && !existsSync(join(REPO_ROOT, path)) && !ignored(path),
    );
    expect([...new Set(missing)]).toEqual([]);
  });
});
