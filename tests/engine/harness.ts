/**
 * The real Pulumi engine for tests and benchmarks: the CLI that scripts/install-pulumi.sh builds (linked in
 * .tools/bin with the dynamic-provider host), a `file://` backend and a passphrase secrets provider in a
 * throwaway directory, and no plugin downloads. The Automation API runs inline programs in this process,
 * so no language host is needed; the engine runs every dynamic provider in its own plugin process.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { LocalWorkspace, type PulumiFn, type Stack } from "@pulumi/pulumi/automation";
import { REPO_ROOT } from "../support/alpha";

export const TOOLS_BIN = join(REPO_ROOT, ".tools/bin");
export const PULUMI = join(TOOLS_BIN, "pulumi");
export const PASSPHRASE = "engine-test-passphrase";

/** Why the engine suites cannot run here, or undefined when they can. */
export function engineMissing(): string | undefined {
  if (!existsSync(PULUMI)) return `${PULUMI} is missing (run scripts/install-pulumi.sh)`;
  if (!existsSync(join(TOOLS_BIN, "pulumi-resource-pulumi-nodejs")))
    return "the dynamic-provider host is not linked in .tools/bin (run scripts/install-pulumi.sh)";
  return undefined;
}

/** A backend, a PULUMI_HOME and the environment every CLI run gets. */
export class EngineSandbox {
  readonly backendUrl: string;

  /** A new sandbox, or (with `dir`) one another process made: a run in a fresh process shares its backend. */
  constructor(readonly dir = mkdtempSync(join(tmpdir(), "spectral-engine-"))) {
    this.backendUrl = `file://${join(this.dir, "backend")}`;
    mkdirSync(join(this.dir, "backend"), { recursive: true });
  }

  env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      PATH: `${TOOLS_BIN}:${process.env.PATH}`,
      PULUMI_HOME: join(this.dir, "home"),
      PULUMI_BACKEND_URL: this.backendUrl,
      PULUMI_CONFIG_PASSPHRASE: PASSPHRASE,
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK: "true",
      // The dynamic-provider host resolves @pulumi/pulumi (and the providers their modules) from its working
      // directory, a throwaway folder outside the repository.
      NODE_PATH: join(REPO_ROOT, "node_modules"),
      ...extra,
    };
  }

  /** Runs the CLI in `cwd`; never throws, so tests can assert on failures. */
  async cli(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const { stdout, stderr } = await promisify(execFile)(PULUMI, [...args, "--non-interactive"], {
        cwd,
        env: { ...process.env, ...this.env() },
        maxBuffer: 64 * 1024 * 1024,
      });
      return { code: 0, stdout, stderr };
    } catch (error) {
      const failed = error as { code?: number; stdout?: string; stderr?: string };
      return { code: failed.code ?? 1, stdout: failed.stdout ?? "", stderr: failed.stderr ?? "" };
    }
  }

  /** An inline program's stack, run by the real engine; its working directory is a fresh folder. */
  async inlineStack(
    stackName: string,
    program: PulumiFn,
    envVars: Record<string, string> = {},
  ): Promise<Stack> {
    // The Automation API finds `pulumi` on this process's PATH.
    if (!process.env.PATH?.split(":").includes(TOOLS_BIN))
      process.env.PATH = `${TOOLS_BIN}:${process.env.PATH}`;
    const workDir = mkdtempSync(join(this.dir, "work-"));
    return LocalWorkspace.createOrSelectStack(
      { stackName, projectName: "spectral-engine", program },
      {
        workDir,
        envVars: this.env(envVars),
        secretsProvider: "passphrase",
        projectSettings: {
          name: "spectral-engine",
          runtime: "nodejs",
          backend: { url: this.backendUrl },
        },
      },
    );
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
