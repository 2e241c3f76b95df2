// The reference app's dashboard and operations servers, started as real processes from their entrypoints.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/alpha";

const BUILD = { sha: "b".repeat(40), short_sha: "b".repeat(12) };
let server: ChildProcessWithoutNullStreams | undefined;

afterEach(() => server?.kill("SIGKILL"));

async function start(service: string): Promise<{ base: string; child: ChildProcessWithoutNullStreams }> {
  const versionFile = join(mkdtempSync(join(tmpdir(), "pages-")), "version.json");
  writeFileSync(versionFile, JSON.stringify(BUILD));
  const child = spawn(process.execPath, [join(REPO_ROOT, "reference-app", service, "server.js")], {
    env: { ...process.env, PORT: "0", SPECTRAL_VERSION_FILE: versionFile },
  });
  server = child;
  const [line] = (await once(child.stdout, "data")) as [Buffer];
  const port = /listening on (\d+)/.exec(line.toString())?.[1];
  expect(port, line.toString()).toBeDefined();
  return { base: `http://127.0.0.1:${port}`, child };
}

describe.each([
  ["dashboard", "Spectral dashboard"],
  ["operations", "Spectral operations"],
])("%s server", (service, title) => {
  it("serves its page at /", async () => {
    const page = await fetch((await start(service)).base);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(await page.text()).toContain(`<h1>${title}</h1>`);
  });

  it("reports its version and the image's version.json on /health, and 404s elsewhere", async () => {
    const { base } = await start(service);
    expect(await (await fetch(`${base}/health`)).json()).toEqual({
      status: "ok",
      service,
      version: "0.1.0",
      build: BUILD,
    });
    expect((await fetch(`${base}/missing`)).status).toBe(404);
  });

  it("exits 0 on SIGTERM", async () => {
    const { child } = await start(service);
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    expect(await exited).toEqual([0, null]);
  });
});
