/**
 * The official Cloudflare SDK, configured from the environment, and Cloudflare's errors in operator terms.
 * The token is read from CLOUDFLARE_API_TOKEN when a call is about to be made, and never stored.
 */

import {
  BASE_URL_VARIABLE,
  describeCloudflareError,
  cloudflareClient as sharedClient,
  TOKEN_VARIABLE,
} from "@spectral/provider-support";
import type Cloudflare from "cloudflare";

export { BASE_URL_VARIABLE, describeCloudflareError, TOKEN_VARIABLE };

/** The program's client: its token needs the rights of every Cloudflare call the program makes. */
export function cloudflareClient(environment: NodeJS.ProcessEnv = process.env): Cloudflare {
  return sharedClient({ rights: "Workers Scripts and Containers edit", maxRetries: 2, environment });
}
