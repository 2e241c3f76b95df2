// Every command the README documents, kept alive: the two commands at its top and each command of its
// commands table run on a fresh checkout of this tree (a git repository of one commit, installed by the
// README's own install commands), against the same real parts as the other suites: PostgreSQL started by
// the commands themselves, the private Docker engine, workerd and the Pulumi CLI. Benchmarks run in their
// short mode. A command the README lists and this file does not know, or the reverse, fails the suite.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../support/alpha";
import { Checkout } from "../support/checkout";
import {
  buildStandins,
  ContainerSuiteUnavailable,
  type Engine,
  pinBases,
  startEngine,
} from "../support/image-builds";
import { skipLoudly } from "../support/skip";

/** How each documented command is kept alive. */
type How =
  /** Runs to completion: exit 0 and output matching `prints`. */
  | { runs: RegExp }
  /**
   * Runs until stopped: ready once every URL answers 200 and `prints` is printed; then Ctrl-C must end the
   * command and every process it started (exit 0, or by SIGINT).
   */
  | { serves: { urls?: string[]; prints?: RegExp } }
  /** Run by `pnpm test` itself (so by CI), which this suite is part of. */
  | { partOfPnpmTest: true }
  /** Run end to end by another suite, named here; that suite must mention the command's script. */
  | { testedBy: string };

const LOCAL_COMPOSE_TEST = "tests/containers/local-compose.test.ts";
const bench = (name: string): How => ({ runs: new RegExp(`^${name}: \\S+=`, "m") });

const HOW: Record<string, How> = {
  "bash scripts/bootstrap.sh && pnpm plan": { runs: /^Summary: \d+ resources/m },
  "bash scripts/bootstrap.sh && bash scripts/install-test-deps.sh && pnpm test": { partOfPnpmTest: true },
  "pnpm plan": { runs: /^Summary: \d+ resources/m },
  "pnpm test": { partOfPnpmTest: true },
  "pnpm typecheck": { partOfPnpmTest: true },
  "pnpm lint": { partOfPnpmTest: true },
  "pnpm test:python": { partOfPnpmTest: true },
  "pnpm test:containers": { partOfPnpmTest: true },
  "pnpm test:engine": { partOfPnpmTest: true },
  "pnpm test:commands": { partOfPnpmTest: true },
  "pnpm format": { runs: /Checked \d+ files/ },
  "pnpm config:reference": { runs: /^config reference: Pulumi\.yaml and docs\/configuration\.md rewritten/m },
  "pnpm dev:api": { serves: { urls: ["http://127.0.0.1:8000/health"] } },
  "pnpm dev:workers": { serves: { prints: /workers: started/ } },
  "pnpm dev:frontend": { serves: { urls: ["http://127.0.0.1:3000/", "http://127.0.0.1:3001/"] } },
  "pnpm standins": { serves: { prints: /^export CLOUDFLARE_BASE_URL=/m } },
  "pnpm compose:up": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:down": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:logs": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:up:frontend": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:down:frontend": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:logs:frontend": { testedBy: LOCAL_COMPOSE_TEST },
  "pnpm compose:build": { runs: /spectral-local\/workers\s+Built/ },
  "pnpm compose:build:frontend": { runs: /spectral-local\/operations\s+Built/ },
  "pnpm compose:config": { runs: /^name: spectral-local$/m },
  "pnpm compose:config:frontend": { runs: /^ {2}operations:$/m },
  "pnpm bench:plan": bench("plan"),
  "pnpm bench:runtime": bench("runtime"),
  "pnpm bench:secrets": bench("secrets"),
  "pnpm bench:generation": bench("generation"),
  "pnpm bench:image": bench("image"),
  "pnpm bench:engine": bench("engine"),
  "pnpm bench:worker": bench("worker"),
  "pnpm bench:cutover": bench("cutover"),
  "pnpm bench:cutover-load": bench("cutover_load"),
  "pnpm bench:faults": bench("faults"),
  "pnpm bench:lifecycle": bench("lifecycle"),
  "pnpm bench:noop": bench("noop"),
  "pnpm bench:parity": bench("parity"),
};

/** The README's commands: the two at its top, and every backticked command in its table's first column. */
function documentedCommands(): string[] {
  const readme = readFileSync(join(REPO_ROOT, "README.md"), "utf8");
  const top = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  const commands = top
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter(Boolean);
  const table = readme.slice(
    readme.indexOf("## Commands"),
    readme.indexOf("\n## ", readme.indexOf("## Commands") + 1),
  );
  for (const row of table.split("\n").filter((line) => line.startsWith("| `")))
    for (const [, command] of row.split(" | ")[0].matchAll(/`([^`]+)`/g)) commands.push(command);
  return commands;
}

interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** The Docker engine the compose and image commands use, or why it cannot run here (said aloud; fails under CI). */
function engineOrMissing(): Engine | { missing: string } {
  try {
    return startEngine(REPO_ROOT);
  } catch (error) {
    if (!(error instanceof ContainerSuiteUnavailable)) throw error;
    return { missing: skipLoudly("documented commands", error.message) };
  }
}

const engine = engineOrMissing();
const missing = "missing" in engine ? engine.missing : undefined;
const dockerHost = "dockerHost" in engine ? engine.dockerHost : "";

describe.skipIf(missing)(
  "every README command on a fresh checkout (real PostgreSQL, Docker engine, workerd and Pulumi CLI; Cloudflare and registry stand-ins where the benches use them)",
  () => {
    let checkout: Checkout;

    function start(command: string): { child: ChildProcess; finished: Promise<Finished>; output(): string } {
      const child = spawn("bash", ["-c", command], {
        cwd: checkout.dir,
        env: { ...process.env, SPECTRAL_BENCH_SHORT: "1", DOCKER_HOST: dockerHost },
        detached: true,
      });
      let output = "";
      child.stdout?.on("data", (chunk) => {
        output += chunk;
      });
      child.stderr?.on("data", (chunk) => {
        output += chunk;
      });
      const finished = new Promise<Finished>((resolve) =>
        child.once("exit", (status, signal) => resolve({ status, signal, output })),
      );
      return { child, finished, output: () => output };
    }

    async function runs(command: string): Promise<string> {
      const { status, output } = await start(command).finished;
      if (status !== 0) throw new Error(`${command} exited ${status}:\n${output.slice(-4000)}`);
      return output;
    }

    function gitStatus(): string {
      return spawnSync("git", ["status", "--porcelain"], { cwd: checkout.dir, encoding: "utf8" }).stdout;
    }

    beforeAll(async () => {
      checkout = new Checkout({ linkInstalled: false, commit: true });
      pinBases({ dockerHost }, REPO_ROOT, buildStandins({ dockerHost }, REPO_ROOT));
      // The install half of the README's test command: what a fresh checkout needs before anything runs.
      await runs("bash scripts/bootstrap.sh && bash scripts/install-test-deps.sh");
      copyFileSync(join(checkout.dir, "infra/local/.env.example"), join(checkout.dir, "infra/local/.env"));
    }, 600_000);

    afterAll(() => checkout?.dispose());

    it("knows how to keep each documented command alive, and documents each command it keeps alive", () => {
      const documented = documentedCommands();
      expect(documented.filter((command) => !(command in HOW))).toEqual([]);
      expect(Object.keys(HOW).filter((command) => !documented.includes(command))).toEqual([]);
    });

    it("pnpm test runs every suite, and CI runs the README's test command verbatim", () => {
      const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
      const testCommand = documentedCommands()[1];
      expect(readFileSync(join(REPO_ROOT, ".ci/run"), "utf8")).toContain(`\n${testCommand}\n`);
      for (const [command, how] of Object.entries(HOW))
        if ("partOfPnpmTest" in how && command.startsWith("pnpm ") && command !== "pnpm test")
          expect(scripts.test, command).toContain(command);
    });

    it.each(Object.entries(HOW).filter(([, how]) => "testedBy" in how))(
      "%s is run end to end by its suite",
      (command, how) => {
        const suite = readFileSync(join(REPO_ROOT, (how as { testedBy: string }).testedBy), "utf8");
        expect(suite).toContain(`"${command.replace(/^pnpm /, "")}"`);
      },
    );

    it.each(Object.entries(HOW).filter(([, how]) => "runs" in how))(
      "%s runs to completion",
      async (command, how) => {
        const output = await runs(command);
        expect(output).toMatch((how as { runs: RegExp }).runs);
        // Nothing a documented command does may leave the checkout changed (formatting, the reference).
        expect(gitStatus()).toBe("");
      },
      600_000,
    );

    it.each(Object.entries(HOW).filter(([, how]) => "serves" in how))(
      "%s serves until Ctrl-C, then stops cleanly",
      async (command, how) => {
        const { urls = [], prints } = (how as { serves: { urls?: string[]; prints?: RegExp } }).serves;
        const running = start(command);
        try {
          if (prints) await expect.poll(running.output, { timeout: 60_000, interval: 250 }).toMatch(prints);
          for (const url of urls)
            await expect
              .poll(
                () =>
                  fetch(url).then(
                    (response) => response.status,
                    () => 0,
                  ),
                { timeout: 60_000, interval: 250 },
              )
              .toBe(200);
        } finally {
          process.kill(-(running.child.pid as number), "SIGINT");
        }
        const { status, signal, output } = await running.finished;
        // pnpm ends by the signal itself when its script was interrupted; a shell reports that as 130.
        expect(status === 0 || status === 130 || signal === "SIGINT", output).toBe(true);
        // pnpm may exit before the processes it started have finished stopping.
        await expect.poll(() => groupAlive(running.child.pid as number), { timeout: 10_000 }).toBe(false);
        for (const url of urls) await expect(fetch(url)).rejects.toThrow();
        if (command === "pnpm standins") {
          const baseUrl = /^export CLOUDFLARE_BASE_URL=(\S+)/m.exec(output)?.[1] ?? "";
          const secretsFile = /deploy\.localSecretsFile (\S+)/.exec(output)?.[1] ?? "";
          await expect(fetch(baseUrl)).rejects.toThrow();
          expect(existsSync(secretsFile)).toBe(false);
        }
      },
      120_000,
    );
  },
);

/** Whether any process of the group `pid` leads is still running. */
function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
