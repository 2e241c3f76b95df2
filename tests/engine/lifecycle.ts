/**
 * Lifecycle runs: each Pulumi operation in a fresh Node process that loads the engine program through
 * ts-node as `pulumi up` does (ts-node-host.js), from a checkout of this working tree that a test may edit
 * (an operator changing provider code between runs). The scenario's stand-ins, database and backend are
 * shared by every run, as an operator's machine and Cloudflare account are.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkout } from "../support/checkout";
import type { TestDatabase } from "../support/postgres";
import type { LifecycleJob, LifecycleResult, Operation } from "./lifecycle-job";
import type { EngineInputs } from "./program";
import { EngineScenario } from "./scenario";

/** The providers this project wrote: an edit to any of them must not redeploy. */
export const PROVIDER_FILES = [
  "components/deployment-generation-provider.ts",
  "components/worker-script-provider.ts",
  "components/container-application-provider.ts",
  "components/deploy-verification-provider.ts",
  "components/image-retention-provider.ts",
];

/** Processes under `pid` (children first found), read from /proc. */
export function descendants(pid: number): { pid: number; command: string }[] {
  const all = readdirSync("/proc")
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        const command = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim();
        return [{ pid: Number(entry), parent, command }];
      } catch {
        return [];
      }
    });
  const found: { pid: number; command: string }[] = [];
  const visit = (parent: number) => {
    for (const child of all.filter((each) => each.parent === parent)) {
      found.push({ pid: child.pid, command: child.command });
      visit(child.pid);
    }
  };
  visit(pid);
  return found;
}

/** Whether a process is alive (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

export interface RunOptions {
  stack?: string;
  /** Resolves when the run is where the test wants it: then the CLI is killed with SIGKILL. */
  killWhen?: Promise<unknown>;
}

export interface Run extends LifecycleResult {
  /** The dynamic-provider hosts the killed CLI had started, by pid. */
  providerHosts: number[];
}

export class LifecycleRunner {
  private constructor(
    readonly scenario: EngineScenario,
    readonly checkout: Checkout,
  ) {}

  /** A scenario (on `database`, else a throwaway cluster) and a fresh checkout to run from. */
  static async start(database?: TestDatabase): Promise<LifecycleRunner> {
    return new LifecycleRunner(await EngineScenario.start(database), new Checkout());
  }

  async close(): Promise<void> {
    await this.scenario.close();
    this.checkout.dispose();
  }

  /** The stack's checkpoint in the file backend: each resource's type, URN, inputs and outputs. */
  state(stack = "lifecycle"): {
    type: string;
    urn: string;
    id?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
  }[] {
    const file = join(this.scenario.sandbox.dir, "backend/.pulumi/stacks/spectral-engine", `${stack}.json`);
    const checkpoint = JSON.parse(readFileSync(file, "utf8")) as {
      checkpoint: { latest?: { resources?: [] } };
    };
    return checkpoint.checkpoint.latest?.resources ?? [];
  }

  /** One operation in a fresh process, loaded through ts-node from the checkout. */
  async run(operation: Operation, inputs: EngineInputs, options: RunOptions = {}): Promise<Run> {
    const work = mkdtempSync(join(this.scenario.sandbox.dir, "job-"));
    const job: LifecycleJob = {
      operation,
      sandboxDir: this.scenario.sandbox.dir,
      stack: options.stack ?? "lifecycle",
      inputs,
      env: this.scenario.providerEnv(),
    };
    writeFileSync(join(work, "job.json"), JSON.stringify(job));
    const child = spawn(
      process.execPath,
      [
        join(this.checkout.dir, "tests/engine/ts-node-host.js"),
        this.checkout.dir,
        join(work, "job.json"),
        join(work, "result.json"),
      ],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    const exited = once(child, "exit");
    let providerHosts: number[] = [];
    if (options.killWhen) {
      const reached = await Promise.race([options.killWhen.then(() => true), exited.then(() => false)]);
      if (!reached)
        throw new Error(`the ${operation} ended before it reached the point where the test kills it`);
      providerHosts = this.killCli(child);
    }
    await exited;
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as LifecycleResult;
    return { ...result, providerHosts };
  }

  /** SIGKILLs the `pulumi` CLI under `child`; returns the provider hosts it ran. */
  private killCli(child: ChildProcess): number[] {
    const tree = descendants(child.pid ?? 0);
    const cli = tree.find((each) => /(^|\/)pulumi (up|preview|destroy|refresh)\b/.test(each.command));
    if (!cli) throw new Error(`no pulumi CLI under the run: ${JSON.stringify(tree)}`);
    const hosts = descendants(cli.pid)
      .filter(
        (each) =>
          each.command.includes("dynamic-provider") || each.command.includes("pulumi-resource-pulumi-nodejs"),
      )
      .map((each) => each.pid);
    process.kill(cli.pid, "SIGKILL");
    return hosts;
  }
}
