/**
 * `pnpm bench:image`: the app image's size and rebuild cost, measured on this machine with Debian's
 * Docker engine and the stand-in bases (see tests/support/image-builds.ts).
 *
 *   image: app_mb=<s> base_mb=<b> cold_build_s=<c> warm_rebuild_s=<w> rebuild_ratio=<w/c> reused_layers=<r>/<t>
 *
 * cold_build_s is what a fresh CI machine pays: a new, empty engine (no build cache, no cache mounts, no
 * base image) loads the bases, as a pull would, and builds; every package is downloaded. warm_rebuild_s
 * rebuilds on that engine after one source file of the reference app changed and nothing else, in a copy
 * of the checkout. Goals: rebuild_ratio <= 0.15, and the dependency layers reused.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import {
  buildImage,
  buildStandins,
  docker,
  type Engine,
  pinnedUvVersion,
  standinDockerfile,
  startEngine,
} from "../tests/support/image-builds";

const REPO_ROOT = resolve(__dirname, "..");
const TAG = "spectral-bench/app:latest";
const EDITED_SOURCE = "reference-app/python/src/spectral_app/api.py";

/** The checkout's files (tracked and untracked, not ignored) plus version.json, copied to a temp dir. */
function copyOfCheckout(): string {
  execFileSync("bash", [join(REPO_ROOT, "infra/docker/build-version.sh")], { cwd: REPO_ROOT });
  const copy = mkdtempSync(join(tmpdir(), "bench-image-"));
  const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], {
    cwd: REPO_ROOT,
    encoding: "utf8",
  })
    .split("\n")
    .filter(Boolean)
    .concat("infra/docker/version.json");
  for (const file of files) {
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    cpSync(join(REPO_ROOT, file), join(copy, file));
  }
  return copy;
}

function timed(work: () => void): number {
  const started = process.hrtime.bigint();
  work();
  return Number(process.hrtime.bigint() - started) / 1e9;
}

/** A second, empty engine on its own socket and data root, stopped and removed by `stop`. */
function freshEngine(): { engine: Engine; stop(): void } {
  const root = mkdtempSync("/var/tmp/bench-image-engine-");
  const engine = startEngine(REPO_ROOT, { SPECTRAL_DOCKER_ROOT: root });
  return {
    engine,
    stop() {
      const pid = Number(readFileSync(join(root, "dockerd.pid"), "utf8"));
      process.kill(pid, "SIGTERM");
      execFileSync("bash", ["-c", `while kill -0 ${pid} 2>/dev/null; do sleep 0.2; done`]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

const layersOf = (engine: Engine, image: string): string[] =>
  JSON.parse(docker(engine, ["image", "inspect", "-f", "{{json .RootFS.Layers}}", image]));
const megabytes = (engine: Engine, image: string) =>
  Number(docker(engine, ["image", "inspect", "-f", "{{.Size}}", image])) / 1e6;

function main(): void {
  const standins = buildStandins(startEngine(REPO_ROOT), REPO_ROOT);
  const bases = [
    standins.get("python:3.14-slim-trixie") ?? "",
    standins.get(`ghcr.io/astral-sh/uv:${pinnedUvVersion(REPO_ROOT)}`) ?? "",
  ];
  const basesTar = join(mkdtempSync(join(tmpdir(), "bench-image-bases-")), "bases.tar");
  docker(startEngine(REPO_ROOT), ["save", "-o", basesTar, ...bases]);
  const dockerfile = standinDockerfile(REPO_ROOT, "app", standins);
  const context = copyOfCheckout();

  const fresh = freshEngine();
  try {
    const { engine } = fresh;
    const coldSeconds = timed(() => {
      docker(engine, ["load", "-q", "-i", basesTar]);
      buildImage(engine, dockerfile, context, TAG);
    });
    const before = layersOf(engine, TAG);
    appendFileSync(join(context, EDITED_SOURCE), "\n# bench:image edit\n");
    const warmSeconds = timed(() => buildImage(engine, dockerfile, context, TAG));
    const after = layersOf(engine, TAG);
    report(
      engine,
      bases[0],
      coldSeconds,
      warmSeconds,
      after.filter((layer) => before.includes(layer)).length,
      after.length,
    );
  } finally {
    fresh.stop();
    for (const temporary of [dirname(basesTar), dirname(dockerfile), context])
      rmSync(temporary, { recursive: true, force: true });
  }
}

function report(
  engine: Engine,
  base: string,
  coldSeconds: number,
  warmSeconds: number,
  reused: number,
  total: number,
): void {
  const figures = {
    app_mb: megabytes(engine, TAG).toFixed(1),
    base_mb: megabytes(engine, base).toFixed(1),
    cold_build_s: coldSeconds.toFixed(2),
    warm_rebuild_s: warmSeconds.toFixed(2),
    rebuild_ratio: (warmSeconds / coldSeconds).toFixed(3),
    reused_layers: `${reused}/${total}`,
  };
  console.log(
    `image: ${Object.entries(figures)
      .map(([key, value]) => `${key}=${value}`)
      .join(" ")}`,
  );
}

main();
