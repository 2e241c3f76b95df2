/**
 * vitest global setup of the container suite: starts (or reuses) the private Docker engine, builds the
 * stand-in bases and pins the Dockerfiles' base digests to them, stamps version.json and builds all five
 * images. Where the engine cannot start, every
 * container test reports SKIPPED with the reason; under CI=true that fails the run unless
 * SPECTRAL_SKIP_CONTAINERS=1 is set explicitly.
 */
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TestProject } from "vitest/node";
import { REPO_ROOT } from "../support/alpha";
import {
  buildImage,
  buildStandins,
  ContainerSuiteUnavailable,
  type Engine,
  IMAGES,
  imageTag,
  pinBases,
  standinDockerfile,
  startEngine,
} from "../support/image-builds";
import { skipLoudly } from "../support/skip";

export type ContainerSetup = { skipped: string } | { dockerHost: string; versionJson: string };

declare module "vitest" {
  export interface ProvidedContext {
    containers: ContainerSetup;
  }
}

function skip(project: TestProject, reason: string): void {
  console.warn(`\nSKIPPED: container suite: ${reason}\n`);
  project.provide("containers", { skipped: reason });
}

export default function setup(project: TestProject): void {
  if (process.env.SPECTRAL_SKIP_CONTAINERS === "1") {
    skip(project, "SPECTRAL_SKIP_CONTAINERS=1 is set");
    return;
  }
  let engine: Engine;
  try {
    engine = startEngine(REPO_ROOT);
  } catch (error) {
    if (!(error instanceof ContainerSuiteUnavailable)) throw error;
    const reason = skipLoudly(
      "container suite",
      error.message,
      "set SPECTRAL_SKIP_CONTAINERS=1 to skip it on purpose",
    );
    project.provide("containers", { skipped: reason });
    return;
  }
  execFileSync("bash", [join(REPO_ROOT, "infra/docker/build-version.sh")], { cwd: REPO_ROOT });
  const standins = buildStandins(engine, REPO_ROOT);
  pinBases(engine, REPO_ROOT, standins);
  for (const name of IMAGES) {
    const dockerfile = standinDockerfile(REPO_ROOT, name, standins);
    buildImage(engine, dockerfile, REPO_ROOT, imageTag(name));
    rmSync(dirname(dockerfile), { recursive: true, force: true });
  }
  project.provide("containers", {
    dockerHost: engine.dockerHost,
    versionJson: readFileSync(join(REPO_ROOT, "infra/docker/version.json"), "utf8"),
  });
}
