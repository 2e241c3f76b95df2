import type Cloudflare from "cloudflare";

export declare const TOKEN_VARIABLE: "CLOUDFLARE_API_TOKEN";
export declare const BASE_URL_VARIABLE: "CLOUDFLARE_API_BASE_URL";

/** The official Cloudflare SDK with the token from the environment; `rights` names what the token needs. */
export declare function cloudflareClient(options: {
  rights: string;
  maxRetries: number;
  environment?: NodeJS.ProcessEnv;
}): Cloudflare;

/** "Cloudflare API <status> [code 1234: message; ...] while <doing>", or the error's own message. */
export declare function describeCloudflareError(error: unknown, doing: string): string;

/** The value behind one 1Password reference, read with OP_SERVICE_ACCOUNT_TOKEN; `setting` names its config key. */
export declare function readOnePasswordReference(reference: string, setting: string): Promise<string>;
