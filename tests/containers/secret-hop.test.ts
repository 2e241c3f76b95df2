// The secret hop end to end without Cloudflare: the program's Worker bindings for the alpha manifest, the
// Worker's env-to-container mapping, then the real app_supervisor.py as PID 1 of the real app image,
// with stub children that dump what they see.
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
        `${join(REPO_ROOT, "tests/supervisor")}:/stubs:ro`,
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

    it("writes each file secret to /etc/spectral/<name>, mode 0400, with the secret's bytes", () => {
      for (const entry of containerSecrets.filter((each) => each.kind === "file")) {
        const path = `/etc/spectral/${entry.kind === "file" ? entry.fileName : ""}`;
        expect(run("exec", container, "stat", "-c", "%a %U", path)).toBe("400 spectral");
        expect(run("exec", container, "cat", path)).toBe(secretValue(entry.name));
      }
    });

    it("keeps each child out of its sibling's and PID 1's /proc environ and memory, though all run as UID 1000 (#15 item 6)", () => {
      for (const child of ["api", "workers"] as const) {
        const probe = JSON.parse(readFileSync(join(out, `${child}.probe.json`), "utf8"));
        expect([child, probe]).toEqual([
          child,
          {
            "sibling-environ": "EACCES",
            "sibling-mem": "EACCES",
            "supervisor-environ": "EACCES",
            "supervisor-mem": "EACCES",
            // A dumpable process of the same user, started by the probe: the reads work where nothing forbids them.
            "control-environ": "read",
            "control-mem": "read",
            "own-environ": "EACCES",
            dumpable: 0,
          },
        ]);
      }
      // Any other process of the user (here a shell started by docker exec) fares no better.
      expect(() => run("exec", container, "cat", "/proc/1/environ")).toThrow(/Permission denied/);
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
