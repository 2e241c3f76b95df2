// The app image, built for real from app.Dockerfile on stand-in bases, run by Debian's Docker engine.
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { DOCKER, imageTag } from "../support/image-builds";
import {
  type Container,
  freePort,
  hostCannotReadEnviron,
  hostEnvironBlocks,
  processes,
  removeStarted,
  run,
  setup,
  skipReason,
  start,
  startEnvironment,
  waitForHttp,
} from "./run";

afterEach(removeStarted);

/** The app container with its API on a free loopback port (host networking) and a short stop grace. */
async function startApp(env: Record<string, string> = {}): Promise<{ container: Container; base: string }> {
  const port = await freePort();
  const container = start("app", {
    SPECTRAL_API_COMMAND: `uvicorn spectral_app.api:app --host 127.0.0.1 --port ${port}`,
    SPECTRAL_WORKERS_INTERVAL_SECONDS: "1",
    ...env,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForHttp(`${base}/health`);
  return { container, base };
}

const childrenOf = (container: Container) => processes(container).filter((each) => each.pid !== 1);
const exitCode = (container: Container) => Number(run("inspect", "-f", "{{.State.ExitCode}}", container.id));

describe.skipIf(skipReason)("app image (real build, Docker engine, stand-in bases)", () => {
  it("/health answers with build-version.sh's version.json and the SPECTRAL_GENERATION passed", async () => {
    const { base } = await startApp({ SPECTRAL_GENERATION: "4242" });
    const health = (await (await fetch(`${base}/health`)).json()) as Record<string, unknown>;
    expect(health.build).toEqual(JSON.parse("versionJson" in setup ? setup.versionJson : "null"));
    expect(health.generation).toBe("4242");
    expect(health.version).toBe("0.1.0");
  });

  it("runs the api as UID 1001 and the workers as UID 1002; PID 1 starts as root and keeps only CAP_KILL; neither service may write /app or /etc/spectral", async () => {
    const { container } = await startApp();
    const all = processes(container);
    expect(all.map((each) => each.command)).toEqual(
      expect.arrayContaining([
        expect.stringContaining("app_supervisor.py"),
        expect.stringContaining("uvicorn spectral_app.api:app"),
        expect.stringContaining("-m spectral_app.workers"),
      ]),
    );
    const uidOf = (command: RegExp) => all.find((each) => command.test(each.command))?.uid;
    expect([uidOf(/app_supervisor\.py$/), uidOf(/--child api /), uidOf(/--child workers /)]).toEqual([
      0, 1001, 1002,
    ]);
    expect(container.exec("grep -E '^(CapEff|NoNewPrivs)' /proc/1/status").split("\n")).toEqual([
      "CapEff:\t0000000000000020",
      "NoNewPrivs:\t1",
    ]);
    expect(container.exec("stat -c '%U:%G %a' /app /etc/spectral").split("\n")).toEqual([
      "root:root 755",
      "root:spectral 750",
    ]);
    // Nothing the services import or read their settings from is theirs to change.
    for (const user of ["1001", "1002"])
      expect(
        run(
          "exec",
          "--user",
          user,
          container.id,
          "find",
          "/app",
          "/usr/local/lib",
          "/etc/spectral",
          "-writable",
        ),
      ).toBe("");
  });

  it("docker stop ends both children and exits 0 well inside the stop timeout", async () => {
    const { container } = await startApp();
    const began = Date.now();
    run("stop", "--time", "30", container.id);
    const seconds = (Date.now() - began) / 1000;
    expect(exitCode(container)).toBe(0);
    expect(seconds).toBeLessThan(10);
    const log = container.logs();
    expect(log).toMatch(/app_supervisor: api pid=\d+ exited/);
    expect(log).toMatch(/app_supervisor: workers pid=\d+ exited/);
    expect(log).toContain("workers: stopped");
  });

  it("killing the workers process makes the container exit non-zero", async () => {
    const { container } = await startApp();
    const workers = childrenOf(container).find((each) => each.command.includes("spectral_app.workers"));
    expect(workers).toBeDefined();
    container.exec(`kill -KILL ${workers?.pid}`);
    expect(Number(run("wait", container.id))).toBe(128 + 9);
  });

  it("writes a file secret passed in env to /etc/spectral/<name>, root:spectral 0440, unseen by the children", async () => {
    const content = "-----BEGIN CERTIFICATE-----\nfile-secret-canary\n-----END CERTIFICATE-----\n";
    const { container } = await startApp({
      SPECTRAL_SECRET_MANIFEST: JSON.stringify({
        env: {},
        files: { SPECTRAL_FILE_DATABASE_CA_CERT: { path: "/etc/spectral/supabase-ca.crt", scope: "app" } },
      }),
      SPECTRAL_FILE_DATABASE_CA_CERT: Buffer.from(content).toString("base64"),
    });
    expect(container.exec("stat -c '%U:%G %a' /etc/spectral/supabase-ca.crt")).toBe("root:spectral 440");
    expect(`${container.exec("cat /etc/spectral/supabase-ca.crt")}\n`).toBe(content);
    if (hostCannotReadEnviron) {
      console.warn(`SKIPPED part: the children's environment blocks: ${hostCannotReadEnviron}`);
      return;
    }
    const { children } = hostEnvironBlocks(container.id);
    expect(children).toHaveLength(2);
    for (const block of children) expect(block).not.toMatch(/SPECTRAL_FILE_|SPECTRAL_SECRET_MANIFEST/);
  });

  it("keeps a secret passed at run time out of every image layer and out of docker history", async () => {
    const canary = "runtime-secret-canary-7f3a";
    const { container } = await startApp({ SENTRY_DSN: canary });
    expect(startEnvironment(container.id)).toContain(`SENTRY_DSN=${canary}`);
    const saved = spawnSync(DOCKER, ["save", imageTag("app")], {
      env: { ...process.env, DOCKER_HOST: "dockerHost" in setup ? setup.dockerHost : "" },
      maxBuffer: 2 * 1024 * 1024 * 1024,
    });
    expect(saved.status).toBe(0);
    expect(saved.stdout.length).toBeGreaterThan(10 * 1024 * 1024);
    expect(saved.stdout.includes(canary)).toBe(false);
    expect(saved.stdout.includes(Buffer.from(canary).toString("base64"))).toBe(false);
    expect(run("history", "--no-trunc", imageTag("app"))).not.toContain(canary);
    expect(run("image", "inspect", imageTag("app"))).not.toContain(canary);
  });
});
