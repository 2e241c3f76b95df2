// The separately launchable images, built for real on stand-in bases: one process each, pages served.
import { afterEach, describe, expect, it } from "vitest";
import { freePort, processes, removeStarted, skipReason, start, waitForHttp } from "./run";

afterEach(removeStarted);

describe.skipIf(skipReason)("seam images (real builds, Docker engine, stand-in bases)", () => {
  it("the api image runs uvicorn alone, as PID 1 and UID 1000, answering /health", async () => {
    const port = await freePort();
    // Same program as the image's CMD, on a free port: containers share the host's network here.
    const api = start("api", {}, [
      "uvicorn",
      "spectral_app.api:app",
      "--host",
      "127.0.0.1",
      "--port",
      `${port}`,
    ]);
    const health = (await (await waitForHttp(`http://127.0.0.1:${port}/health`)).json()) as Record<
      string,
      unknown
    >;
    expect(health.status).toBe("ok");
    expect(processes(api)).toEqual([
      {
        pid: 1,
        uid: 1000,
        command: `/app/.venv/bin/python /app/.venv/bin/uvicorn spectral_app.api:app --host 127.0.0.1 --port ${port}`,
      },
    ]);
  });

  it("the workers image runs the workers loop alone, as PID 1 and UID 1000", async () => {
    const workers = start("workers", { SPECTRAL_WORKERS_INTERVAL_SECONDS: "1" });
    await expect.poll(() => workers.logs(), { timeout: 15_000 }).toContain("workers: started");
    expect(processes(workers)).toEqual([{ pid: 1, uid: 1000, command: "python -m spectral_app.workers" }]);
  });

  it.each([
    ["dashboard", "Spectral dashboard"],
    ["operations", "Spectral operations"],
  ] as const)("the %s image serves its page as UID 1000", async (image, title) => {
    const port = await freePort();
    const container = start(image, { PORT: `${port}` });
    const page = await waitForHttp(`http://127.0.0.1:${port}/`);
    expect(await page.text()).toContain(`<h1>${title}</h1>`);
    expect(processes(container)).toEqual([{ pid: 1, uid: 1000, command: "node server.js" }]);
  });
});
