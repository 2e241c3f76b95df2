import { join } from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { CLOUDFLARE_REGISTRY, imageRepository, registryPushCredentials } from "../lib/cloudflare/registry";
import { type BuildVersion, ImageBuildError, isDirty, stampVersion } from "../lib/image/version";

export interface AppImageArgs {
  /**
   * The repository checkout: the build context, and where build-version.sh runs. Relative to the working
   * directory (Pulumi runs programs in the project directory), so state records no machine's paths.
   */
  repoRoot: string;
  /** The Dockerfile, relative to `repoRoot`. */
  dockerfile: string;
  /** Cloudflare account whose registry namespace receives the image. */
  accountId: string;
  /** Image name in that namespace: registry.cloudflare.com/<accountId>/<name>:<short_sha>. */
  name: string;
}

/** Stands in for the registry login in preview, where no credentials are requested. */
const NOT_REQUESTED_IN_PREVIEW = "not-requested-in-preview";

/**
 * The app image (ADR-049 D1/D5): stamped with version.json, built for linux/amd64 from the repository
 * root, and pushed to Cloudflare's registry under the commit's short sha. Preview and the offline plan
 * never build, push or ask Cloudflare for credentials. The same commit gives the same build context,
 * so the docker provider sees no change and pushes nothing.
 */
export class AppImage extends pulumi.ComponentResource {
  /** The tag pushed: registry.cloudflare.com/<account>/<name>:<short_sha>, with `-dirty` for a dirty tree. */
  public readonly imageName: string;
  /** The pushed image by digest, <repository>@sha256:...: what deployments reference. */
  public readonly digestReference: pulumi.Output<string>;
  /** The version.json baked into the image. */
  public readonly version: BuildVersion;

  constructor(name: string, args: AppImageArgs, opts?: pulumi.ComponentResourceOptions) {
    super("spectral:image:AppImage", name, {}, opts);
    this.version = stampVersionForDeploy(args.repoRoot);
    const tag = isDirty(this.version) ? `${this.version.short_sha}-dirty` : this.version.short_sha;
    this.imageName = `${imageRepository(args.accountId, args.name)}:${tag}`;
    const image = new docker.Image(
      `${name}-image`,
      {
        imageName: this.imageName,
        build: {
          context: args.repoRoot,
          dockerfile: join(args.repoRoot, args.dockerfile),
          platform: "linux/amd64",
          builderVersion: "BuilderBuildKit",
        },
        registry: pushLogin(args.accountId, args.name),
      },
      { parent: this },
    );
    this.digestReference = image.repoDigest;
    this.registerOutputs({ imageName: this.imageName, digestReference: this.digestReference });
  }
}

/** Lets an update build a checkout with uncommitted changes (local experiments); its tag says `-dirty`. */
export const ALLOW_DIRTY_VARIABLE = "SPECTRAL_ALLOW_DIRTY_IMAGE";

/** Stamps version.json; an update refuses a dirty tree, whose image the commit's tag would misname. */
function stampVersionForDeploy(repoRoot: string): BuildVersion {
  const version = stampVersion(repoRoot);
  if (!pulumi.runtime.isDryRun() && isDirty(version) && process.env[ALLOW_DIRTY_VARIABLE] !== "1") {
    throw new ImageBuildError(
      `the checkout has uncommitted changes (${version.describe}), so its image cannot be tagged ${version.short_sha}: commit or stash them (or set ${ALLOW_DIRTY_VARIABLE}=1 for a ${version.short_sha}-dirty tag), then run pulumi up again`,
    );
  }
  return version;
}

/** Short-lived push credentials from Cloudflare, requested only when an update may push. */
function pushLogin(accountId: string, name: string): docker.types.input.Registry {
  if (pulumi.runtime.isDryRun()) {
    // The provider diffs only the server, so placeholders here show no change against the last update.
    return {
      server: CLOUDFLARE_REGISTRY,
      username: NOT_REQUESTED_IN_PREVIEW,
      password: pulumi.secret(NOT_REQUESTED_IN_PREVIEW),
    };
  }
  const login = pulumi.secret(
    Promise.resolve()
      .then(() => registryPushCredentials(accountId, `AppImage ${name}`))
      .catch((error: Error) => Promise.reject(new ImageBuildError(error.message))),
  );
  return { server: CLOUDFLARE_REGISTRY, username: login.username, password: login.password };
}
