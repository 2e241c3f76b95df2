/** Short-lived push credentials for Cloudflare's managed image registry (platform facts: Image registry). */
import type Cloudflare from "cloudflare";
import { describeCloudflareError } from "./client";

export const CLOUDFLARE_REGISTRY = "registry.cloudflare.com";
/** Long enough for a cold build and push; short enough that a leaked pair soon expires. */
export const PUSH_CREDENTIALS_MINUTES = 60;

export interface RegistryLogin {
  server: string;
  username: string;
  password: string;
}

export function imageRepository(accountId: string, name: string): string {
  return `${CLOUDFLARE_REGISTRY}/${accountId}/${name}`;
}

export async function registryPushCredentials(client: Cloudflare, accountId: string): Promise<RegistryLogin> {
  return registryCredentials(client, accountId, ["push", "pull"], PUSH_CREDENTIALS_MINUTES);
}

/** Pull-only credentials that expire in `minutes`: enough to read one image, never to change one. */
export async function registryPullCredentials(
  client: Cloudflare,
  accountId: string,
  minutes: number,
): Promise<RegistryLogin> {
  return registryCredentials(client, accountId, ["pull"], minutes);
}

async function registryCredentials(
  client: Cloudflare,
  accountId: string,
  permissions: ("push" | "pull")[],
  minutes: number,
): Promise<RegistryLogin> {
  try {
    const credentials = await client.containers.registries.credentials.generate(CLOUDFLARE_REGISTRY, {
      account_id: accountId,
      expiration_minutes: minutes,
      permissions,
    });
    return {
      server: credentials.registry_host,
      username: credentials.username,
      password: credentials.password,
    };
  } catch (error) {
    throw new Error(
      describeCloudflareError(
        error,
        `getting ${permissions.join("/")} credentials for ${CLOUDFLARE_REGISTRY}/${accountId}`,
      ),
    );
  }
}

/** `registry.cloudflare.com/<account>/<repository>@sha256:<digest>`, as AppImage's digestReference is. */
export const DIGEST_REFERENCE =
  /^registry\.cloudflare\.com\/([0-9a-f]{32})\/([a-z0-9][a-z0-9._-]*)@sha256:[0-9a-f]{64}$/;
