/** Short-lived push credentials for Cloudflare's managed image registry (platform facts: Image registry). */
import { cloudflareCall } from "@spectral/provider-support";

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

/** Push and pull credentials for `who` (named in errors: "AppImage spectral-alpha-app"). */
export async function registryPushCredentials(accountId: string, who: string): Promise<RegistryLogin> {
  return registryCredentials(accountId, ["push", "pull"], PUSH_CREDENTIALS_MINUTES, who);
}

/** Pull-only credentials that expire in `minutes`: enough to read one image, never to change one. */
export async function registryPullCredentials(
  accountId: string,
  minutes: number,
  who: string,
): Promise<RegistryLogin> {
  return registryCredentials(accountId, ["pull"], minutes, who);
}

async function registryCredentials(
  accountId: string,
  permissions: ("push" | "pull")[],
  minutes: number,
  who: string,
): Promise<RegistryLogin> {
  // Minting credentials changes nothing that matters if repeated, so it is retried like a read.
  const credentials = await cloudflareCall(
    {
      resource: who,
      doing: `getting ${permissions.join("/")} credentials for ${CLOUDFLARE_REGISTRY}/${accountId}`,
      permission: "Account > Containers > Edit",
      account: accountId,
    },
    (client) =>
      client.containers.registries.credentials.generate(CLOUDFLARE_REGISTRY, {
        account_id: accountId,
        expiration_minutes: minutes,
        permissions,
      }),
  );
  return {
    server: credentials.registry_host,
    username: credentials.username,
    password: credentials.password,
  };
}

/** `registry.cloudflare.com/<account>/<repository>@sha256:<digest>`, as AppImage's digestReference is. */
export const DIGEST_REFERENCE =
  /^registry\.cloudflare\.com\/([0-9a-f]{32})\/([a-z0-9][a-z0-9._-]*)@sha256:[0-9a-f]{64}$/;
