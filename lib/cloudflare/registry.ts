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
  try {
    const credentials = await client.containers.registries.credentials.generate(CLOUDFLARE_REGISTRY, {
      account_id: accountId,
      expiration_minutes: PUSH_CREDENTIALS_MINUTES,
      permissions: ["push", "pull"],
    });
    return {
      server: credentials.registry_host,
      username: credentials.username,
      password: credentials.password,
    };
  } catch (error) {
    throw new Error(
      describeCloudflareError(error, `getting push credentials for ${CLOUDFLARE_REGISTRY}/${accountId}`),
    );
  }
}
