// The secret hop end to end without Cloudflare: the program's Worker bindings for the alpha manifest, the
// Worker's env-to-container mapping, then the real app_supervisor.py as PID 1 of the real app image,
// with stub children that dump what they see and attack each other from inside their scopes.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseStackConfig } from "../../lib/config";
import { workerSecretBindings } from "../../lib/secrets/bindings";
import { containerEnvVars } from "../../worker/src/container-env";
import { alphaConfig, REPO_ROOT } from "../support/alpha";
import { imageTag } from "../support/image-builds";
import { hostCannotReadEnviron, hostEnvironBlocks, run, skipReason } from "./run";

const manifest = parseStackConfig(alphaConfig()).secrets;
const containerSecrets = manifest.filter((entry) => entry.targets.includes("container"));
const secretValue = (name: string) => `hop-value-of-${name.toLowerCase()}`;

describe.skipIf(skipReason)(
  "secret hop: program bindings → Worker mapping → app_supervisor.py in the app image",
  () => {
    const out = mkdtempSync(join(tmpdir(), "secret-hop-"));
    let container = "";
    const seen = (child: "api" | "workers") =>
      JSON.parse(readFileSync(join(out, `${child}.json`), "utf8")).env as Record<string, string>;

    beforeAll(async () => {
      chmodSync(out, 0o777);
      const values = Object.fromEntries(manifest.map((entry) => [entry.name, secretValue(entry.name)]));
      const workerEnv: Record<string, unknown> = {
        SPECTRAL_APP: { durableObjectNamespace: true },
        SPECTRAL_SLEEP_AFTER: "10m",
        SPECTRAL_GENERATION: "77",
        ...Object.fromEntries(
          workerSecretBindings(manifest, values).map((binding) => [binding.name, binding.text]),
        ),
      };
      const env = containerEnvVars(workerEnv);
      const stub = (name: string) => `python /stubs/stub_child.py ${name} /out probe`;
      container = run(
        "run",
        "-d",
        "--network",
        "host",
        "-v",
        // Root's on the host, so neither scope can write it: a module planted there would fail as in /app.
        `${join(REPO_ROOT, "tests/supervisor")}:/stubs`,
        "-v",
        `${out}:/out`,
        ...Object.entries({
          ...env,
          SPECTRAL_API_COMMAND: stub("api"),
          SPECTRAL_WORKERS_COMMAND: stub("workers"),
        }).flatMap(([name, value]) => ["-e", `${name}=${value}`]),
        imageTag("app"),
      );
      const deadline = Date.now() + 20_000;
      while (!(existsSync(join(out, "api.probe.json")) && existsSync(join(out, "workers.probe.json")))) {
        if (Date.now() > deadline)
          throw new Error(`the stub children never started:\n${run("logs", container)}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    });

    afterAll(() => {
      if (container) run("rm", "-f", container);
      rmSync(out, { recursive: true, force: true });
    });

    it("gives each env secret, under its name, to exactly the children of its scope", () => {
      for (const entry of containerSecrets.filter((each) => each.kind === "env")) {
        for (const child of ["api", "workers"] as const) {
          const expected =
            entry.scope === "app" || entry.scope === child ? secretValue(entry.name) : undefined;
          expect([entry.name, child, seen(child)[entry.name]]).toEqual([entry.name, child, expected]);
        }
      }
    });

    it("writes each file secret to /etc/spectral/<name>, root:spectral 0440, with the secret's bytes", () => {
      for (const entry of containerSecrets.filter((each) => each.kind === "file")) {
        const path = `/etc/spectral/${entry.kind === "file" ? entry.fileName : ""}`;
        expect(run("exec", container, "stat", "-c", "%a %U:%G", path)).toBe("440 root:spectral");
        expect(run("exec", container, "cat", path)).toBe(secretValue(entry.name));
      }
    });

    // Each attack of #21, made by each child against the other from inside its scope (stub_child.py's probe).
    const attacks = (child: "api" | "workers") => {
      const probe = JSON.parse(readFileSync(join(out, `${child}.probe.json`), "utf8")) as Record<
        string,
        unknown
      >;
      const pick = (prefix: string) =>
        Object.fromEntries(Object.entries(probe).filter(([key]) => key.startsWith(prefix)));
      return { probe, reads: { ...pick("sibling"), ...pick("supervisor") }, plants: pick("plant ") };
    };

    it("runs the api as UID 1001 and the workers as UID 1002, both in group spectral (1000) only", () => {
      const ids = (child: "api" | "workers") => {
        const { uid, gid, groups } = JSON.parse(readFileSync(join(out, `${child}.json`), "utf8"));
        return [uid, gid, groups];
      };
      expect([ids("api"), ids("workers")]).toEqual([
        [1001, 1001, [1000]],
        [1002, 1002, [1000]],
      ]);
    });

    it("keeps each scope out of the other's /proc environ and mem, its subprocess's and forkserver pool's included, and PID 1's: the kernel refuses (EACCES), while a control of the scope's own is read", () => {
      for (const child of ["api", "workers"] as const) {
        const { probe, reads } = attacks(child);
        expect(Object.keys(reads).sort()).toEqual(
          [
            "sibling",
            "sibling-forkserver",
            "sibling-pool-worker",
            "sibling-resource-tracker",
            "sibling-subprocess",
            "supervisor",
          ]
            .flatMap((target) => [`${target}-environ`, `${target}-mem`])
            .sort(),
        );
        expect([child, new Set(Object.values(reads))]).toEqual([child, new Set(["EACCES"])]);
        expect([child, probe["control-environ"], probe["control-mem"], probe.dumpable]).toEqual([
          child,
          "read",
          "read",
          0,
        ]);
      }
      // Any other process of a scope's user (here a shell started by docker exec) fares no better.
      expect(() => run("exec", "--user", "1001", container, "cat", "/proc/1/environ")).toThrow(
        /Permission denied/,
      );
    });

    it("refuses a module planted on the other scope's import path, and a replaced file secret: EACCES; the file secrets are read", () => {
      for (const child of ["api", "workers"] as const) {
        const { probe, plants } = attacks(child);
        expect(Object.keys(plants)).toEqual(
          expect.arrayContaining([
            "plant /app",
            "plant /app/src",
            "plant /app/.venv/lib/python3.14/site-packages",
            "plant /stubs",
          ]),
        );
        expect([child, new Set(Object.values(plants))]).toEqual([child, new Set(["EACCES"])]);
        for (const entry of containerSecrets.filter((each) => each.kind === "file")) {
          const name = entry.kind === "file" ? entry.fileName : "";
          expect([child, probe[`read ${name}`], probe[`write ${name}`], probe[`replace ${name}`]]).toEqual([
            child,
            "done",
            "EACCES",
            "EACCES",
          ]);
        }
      }
    });

    it("refuses an early /proc/<pid>/mem open: a watcher of the api's user opens the workers child's mem from its first moment (still root) to its drop, and gets no descriptor", async () => {
      // A second container of the image, where the watcher runs before the supervisor starts the children.
      const id = run(
        "run",
        "-d",
        "--entrypoint",
        "sleep",
        "-v",
        `${join(REPO_ROOT, "tests/supervisor")}:/stubs`,
        imageTag("app"),
        "300",
      );
      try {
        run("exec", "-d", "--user", "1001", id, "python", "/stubs/early_attacker.py", "/tmp/early");
        /** What `docker exec` prints, or undefined while the command fails (the file is not there yet). */
        const attempt = (...command: string[]) => {
          try {
            return run("exec", id, ...command);
          } catch {
            return undefined;
          }
        };
        const until = async <T>(what: string, probe: () => T | undefined): Promise<T> => {
          const deadline = Date.now() + 15_000;
          for (let answer = probe(); ; answer = probe()) {
            if (answer !== undefined) return answer;
            if (Date.now() > deadline) throw new Error(`${what}:\n${run("logs", id)}`);
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        };
        await until("the watcher never started", () => attempt("test", "-e", "/tmp/early.ready"));
        run("exec", "-d", id, "python", "/app/app_supervisor.py");
        const report = await until("the watcher never reported", () => attempt("cat", "/tmp/early"));
        const tries = JSON.parse(report) as [string, string][];
        expect(new Set(tries.map(([uid]) => uid))).toEqual(new Set(["0", "1002"]));
        expect(new Set(tries.map(([, outcome]) => outcome))).toEqual(new Set(["EACCES"]));
      } finally {
        run("rm", "-f", id);
      }
    });

    it.skipIf(hostCannotReadEnviron)(
      "leaves no secret in PID 1's start-up environment, nor in a child's (read from the host, as root)",
      () => {
        const { pid1, children } = hostEnvironBlocks(container);
        expect(children).toHaveLength(2);
        for (const entry of containerSecrets) {
          const value = secretValue(entry.name);
          const sent = entry.kind === "file" ? Buffer.from(value).toString("base64") : value;
          for (const block of [pid1, ...children]) expect(block).not.toContain(sent);
        }
        // PID 1 keeps the names, their values zeroed; the children never had them.
        expect(pid1).toMatch(/^API_DATABASE_URL=$/m);
        for (const block of children) expect(block).not.toMatch(/^API_DATABASE_URL=/m);
      },
    );

    it("sets SPECTRAL_GENERATION for both children and passes no encoded file variable or manifest on", () => {
      for (const child of ["api", "workers"] as const) {
        const env = seen(child);
        expect(env.SPECTRAL_GENERATION).toBe("77");
        expect(
          Object.keys(env).filter((name) => /^SPECTRAL_FILE_|^SPECTRAL_SECRET_MANIFEST$/.test(name)),
        ).toEqual([]);
        expect(
          Object.keys(env).filter((name) => name === "SPECTRAL_SLEEP_AFTER" || name === "SPECTRAL_APP"),
        ).toEqual([]);
      }
    });
  },
);
