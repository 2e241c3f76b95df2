/**
 * A checkout of this working tree in a temp directory, which a test may edit or run commands in without
 * touching the tree it came from: tracked and new files copied (ignored ones are not), the installed
 * node_modules and .tools linked.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./alpha";

/** This working tree's files (tracked and new, not ignored), copied; node_modules and .tools linked. */
export class Checkout {
  readonly dir = mkdtempSync(join(tmpdir(), "spectral-checkout-"));
  private edits = 0;

  /**
   * `linkInstalled` (default true) links this tree's node_modules and .tools instead of installing anew;
   * `commit` makes the copy a git repository with one commit of everything copied, as a fresh clone is.
   */
  constructor({ linkInstalled = true, commit = false }: { linkInstalled?: boolean; commit?: boolean } = {}) {
    const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
      cwd: REPO_ROOT,
      encoding: "utf8",
    })
      .split("\0")
      .filter(Boolean);
    for (const file of files) {
      mkdirSync(dirname(join(this.dir, file)), { recursive: true });
      cpSync(join(REPO_ROOT, file), join(this.dir, file), { dereference: false });
    }
    // Installed, not versioned: the packages and the CLI that scripts/install-pulumi.sh linked.
    if (linkInstalled)
      for (const installed of ["node_modules", ".tools"])
        symlinkSync(join(REPO_ROOT, installed), join(this.dir, installed));
    if (commit) {
      const git = (...args: string[]) => execFileSync("git", args, { cwd: this.dir, stdio: "pipe" });
      git("init", "--quiet", "--initial-branch=main");
      git("add", "--all");
      git(
        "-c",
        "user.name=checkout",
        "-c",
        "user.email=checkout@localhost",
        "commit",
        "--quiet",
        "-m",
        "checkout",
      );
    }
  }

  /**
   * An operator's edit that changes no behaviour: a comment as the first line of the provider's `diff`,
   * which ts-node keeps, so the serialized provider (`__provider`) differs.
   */
  editProvider(file: string): void {
    const path = join(this.dir, file);
    const source = readFileSync(path, "utf8");
    const edited = source.replace(
      /(\n {2}async diff\([^\n]*\{\n)/,
      `$1    // edited by an operator (${++this.edits})\n`,
    );
    if (edited === source) throw new Error(`${file}: no diff method to edit`);
    writeFileSync(path, edited);
  }

  /** Puts `file` as it was at commit `revision` (an operator's stack deployed by an older release). */
  checkoutFile(file: string, revision: string): void {
    const source = execFileSync("git", ["show", `${revision}:${file}`], { cwd: REPO_ROOT, encoding: "utf8" });
    writeFileSync(join(this.dir, file), source);
  }

  /** Puts `file` back as it is in this working tree. */
  restoreFile(file: string): void {
    cpSync(join(REPO_ROOT, file), join(this.dir, file));
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
