import type Cloudflare from "cloudflare";

export declare const TOKEN_VARIABLE: "CLOUDFLARE_API_TOKEN";
export declare const BASE_URL_VARIABLE: "CLOUDFLARE_API_BASE_URL";

/** How long one request may take, and how long a call keeps retrying (cloudflare.* settings). */
export interface CallLimits {
  requestTimeoutSeconds: number;
  retryBudgetSeconds: number;
}
export declare const DEFAULT_LIMITS: Readonly<CallLimits>;

/** A call as the operator will read about it when it fails. */
export interface ServiceCall {
  /** The resource making it: "ContainerApplication spectral-alpha-app". */
  resource: string;
  /** What it was doing: "starting a rollout of …". */
  doing: string;
  /** A write is retried only when the service did not carry it out. */
  write?: boolean;
  /** The API token permission the call needs, named in 401/403 errors. */
  permission?: string;
  account?: string;
  limits?: Partial<CallLimits>;
  /** Epoch ms: no attempt runs past it (a rollout's or verification's own limit). */
  deadline?: number;
  /** What a write whose answer was lost means, and what the next run does about it. */
  outcomeUnknown?: string;
  /** The next step after a refusal the policy has no words for. */
  next?: string;
}

/** A failed call: the message is the operator's sentence. */
export declare class ServiceError extends Error {
  kind: string;
  status?: number;
  /** "no": the service did not carry the request out; "unknown": it may have. */
  carriedOut: "no" | "unknown";
  /** Cloudflare's error codes in the answer (100146: a version still propagating), if any. */
  codes: number[];
}

/** fetch bounded by `timeoutMs` (connect, headers and body); with expectJson a 2xx must be JSON. */
export declare function boundedFetch(options: {
  timeoutMs: number;
  expectJson?: boolean;
}): (url: string | URL, init?: RequestInit) => Promise<Response>;

/** Runs attempt(timeoutMs) with bounded, safe retries; throws a ServiceError naming resource, host and next step. */
export declare function callService<T>(
  call: ServiceCall & { service: string; host: string },
  attempt: (timeoutMs: number) => Promise<T>,
): Promise<T>;

/** One HTTP request under the call policy: the Response for 2xx or an `accept`ed status. */
export declare function httpCall(
  call: ServiceCall & { service: string; host: string },
  url: string,
  init?: RequestInit,
  options?: { expectJson?: boolean; accept?: number[] },
): Promise<Response>;

/** Words for what one attempt met: "gave no answer within 2 s", "refused the connection …". */
export declare function attemptWords(error: unknown): string;

/** The official Cloudflare SDK for one attempt: bounded by timeoutMs, no SDK retries, JSON enforced. */
export declare function cloudflareClient(options: {
  permission: string;
  timeoutMs: number;
  environment?: NodeJS.ProcessEnv;
}): Cloudflare;

/** host[:port] of the Cloudflare API in use. */
export declare function cloudflareHost(environment?: NodeJS.ProcessEnv): string;

/** use(client) under the call policy, with the Cloudflare API as the service. */
export declare function cloudflareCall<T>(
  call: ServiceCall & { permission: string },
  use: (client: Cloudflare) => Promise<T>,
  environment?: NodeJS.ProcessEnv,
): Promise<T>;

/** The value behind one 1Password reference, read with OP_SERVICE_ACCOUNT_TOKEN; `setting` names its config key. */
export declare function readOnePasswordReference(
  reference: string,
  setting: string,
  timeoutSeconds?: number,
): Promise<string>;

/** How the engine passes a value it does not know yet (in a preview). */
export declare const UNKNOWN: string;

/**
 * The keys of olds and news that differ, without `__provider` (our code, not what is deployed) and the
 * `ignored` ones; a key whose new value is unknown (a preview) is in `unknown`, never in `changed`.
 */
export declare function changedInputs(
  olds: object,
  news: object,
  ignored?: string[],
): { changed: string[]; unknown: string[] };

/** Records that a resource of the running program holds `object` (e.g. "worker <account>/<name>"). */
export declare function declareObject(object: string): void;

/** Whether a resource of the running program holds `object`: a delete of an old resource must leave it. */
export declare function declaredByProgram(object: string): boolean;

/** Forgets every declaration: a run's end, for callers that run several runs in one process (tests). */
export declare function forgetDeclaredObjects(): void;
