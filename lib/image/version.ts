/**
 * The image's version stamp (ADR-049 D5): infra/docker/build-version.sh writes version.json, which every
 * Dockerfile copies to /app/version.json. Deterministic for a commit, so running it in preview is safe:
 * it touches one gitignored file and gives the docker provider the same build context `up` will see.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";

export const VERSION_SCRIPT = "infra/docker/build-version.sh";
export const VERSION_FILE = "infra/docker/version.json";

const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const buildVersionSchema = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  short_sha: z.string().regex(/^[0-9a-f]{12}$/),
  describe: z.string().min(1),
  built_at: z.string(),
  uv_lock_sha: sha256.nullable(),
  pnpm_lock_sha: sha256.nullable(),
});

export type BuildVersion = z.infer<typeof buildVersionSchema>;

/** The image cannot be built from this checkout. A RunError: Pulumi prints the message alone. */
export class ImageBuildError extends pulumi.RunError {
  constructor(message: string) {
    super(message);
    this.name = "ImageBuildError";
  }
}

/** Runs build-version.sh in `repoRoot` and returns the version.json it wrote. */
export function stampVersion(repoRoot: string): BuildVersion {
  try {
    execFileSync("bash", [join(repoRoot, VERSION_SCRIPT)], {
      cwd: repoRoot,
      stdio: ["ignore", "ignore", "pipe"],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? "").trim();
    throw new ImageBuildError(
      `${VERSION_SCRIPT} failed, so the image cannot be stamped: ${stderr || String(error)}`,
    );
  }
  const parsed = buildVersionSchema.safeParse(JSON.parse(readFileSync(join(repoRoot, VERSION_FILE), "utf8")));
  if (!parsed.success) throw new ImageBuildError(`${VERSION_FILE} is malformed: ${parsed.error.message}`);
  return parsed.data;
}

export function isDirty(version: BuildVersion): boolean {
  return version.describe.endsWith("-dirty");
}
