/**
 * The fault matrix of the engine suite and `pnpm bench:faults`: for each provider, each class of fault
 * between it and its service (status codes, Retry-After, HTML and truncated bodies, hangs, refused
 * connections, a refused token), injected by the fault proxies in front of the stand-ins and workerd
 * (tests/support/fault-proxy.ts), or by a database URL that refuses or hangs. Every case deploys the next
 * image under the real engine with short limits, then runs a clean `up` that must converge.
 */
import { createServer, type Server, type Socket } from "node:net";
import type { CallLimits } from "@spectral/provider-support";
import { FAKE_TOKEN } from "../support/fake-cloudflare";
import type { Fault, FaultProxy } from "../support/fault-proxy";
import { DEPLOYER_PASSWORD, freeLoopbackPort } from "../support/postgres";
import { ACCOUNT, type EngineInputs, gitShaOf, imageReference, REPOSITORY } from "./program";
import { type EngineScenario, SECRET_VALUES } from "./scenario";

/** Short limits, so hangs cost seconds: what the settings of the same names would hold. */
export const FAULT_LIMITS: CallLimits = { requestTimeoutSeconds: 1, retryBudgetSeconds: 3 };
const ROLLOUT_TIMEOUT = 2;
const VERIFY_TIMEOUT = 8;
const CONNECT_TIMEOUT = 2;
/** Its own stack name: the generation rows it counts are its own, whatever else shares the database. */
const STACK = "faults";
const BUDGET = FAULT_LIMITS.requestTimeoutSeconds + FAULT_LIMITS.retryBudgetSeconds;

const HOST = String.raw`127\.0\.0\.1:\d+`;
const WORKER = "WorkerScript spectral-engine";
const APPLICATION = "ContainerApplication spectral-engine-app";
const RETENTION = `ImageRetention ${ACCOUNT}/${REPOSITORY}`;
const PRUNING = String.raw`\(the deploy itself succeeded; only pruning old images failed\)`;
const cloudflareError = (status: number, code: number, message: string, retryAfter?: number): Fault => ({
  kind: "status",
  status,
  retryAfter,
  cloudflareError: { code, message },
});

/** What a case may use: the proxies, and database URLs that refuse or hang. */
export interface FaultBench {
  scenario: EngineScenario;
  refusingDatabaseUrl: string;
  silentDatabaseUrl: string;
  /** When the silent database first saw a connection. */
  silentSince?: number;
}

export interface FaultCase {
  provider:
    | "WorkerScript"
    | "ContainerApplication"
    | "ImageRetention"
    | "DeployVerification"
    | "DeploymentGeneration";
  what: string;
  inject(bench: FaultBench): void;
  /** The faulted up's inputs, when the fault is in them (a database URL). */
  inputs?(next: EngineInputs, bench: FaultBench): EngineInputs;
  /** The up fails with this error; when left out, it succeeds (the fault was retried or waited out). */
  error?: RegExp;
  /** The configured limit that must end the faulted part, in seconds. */
  limitSeconds: number;
}

const cf = (bench: FaultBench) => bench.scenario.faults.cloudflare;
const on =
  (proxy: (bench: FaultBench) => FaultProxy, method: string, path: RegExp, fault: Fault, times?: number) =>
  (bench: FaultBench) =>
    proxy(bench).inject({ method, path, fault, times });

const UPLOAD = /\/workers\/scripts\/spectral-engine$/;
const ROLLOUTS = /\/containers\/applications\/[^/]+\/rollouts$/;
const APPLICATION_PATH = /\/containers\/applications\/[^/]+$/;
const CATALOG = /^\/v2\/_catalog$/;
const registry = (bench: FaultBench) => bench.scenario.faults.registry;
const health = (bench: FaultBench) => bench.scenario.faults.health;

export const FAULT_CASES: FaultCase[] = [
  {
    provider: "WorkerScript",
    what: "a 429 with Retry-After: 1 on the upload is waited out",
    inject: on(cf, "PUT", UPLOAD, cloudflareError(429, 971, "rate limited", 1), 1),
    limitSeconds: 1,
  },
  {
    provider: "WorkerScript",
    what: "a 502 on reading the migration tag is retried",
    inject: on(cf, "GET", /\/workers\/scripts$/, cloudflareError(502, 10013, "bad gateway"), 1),
    limitSeconds: BUDGET,
  },
  {
    provider: "WorkerScript",
    what: "a 500 on the upload fails, never resent blindly",
    inject: on(cf, "PUT", UPLOAD, cloudflareError(500, 10013, "internal error"), 1),
    error: new RegExp(
      `${WORKER}: uploading the Worker failed: the Cloudflare API at ${HOST} answered 500 \\(code 10013: internal error\\); Cloudflare may have taken the upload; the next pulumi up uploads it again, which is safe\\. Check this machine's network and https://www\\.cloudflarestatus\\.com, then run pulumi up again\\.`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "WorkerScript",
    what: "an HTML login page instead of the account's subdomain",
    inject: on(cf, "GET", /\/workers\/subdomain$/, { kind: "html" }),
    error: new RegExp(
      `${WORKER}: reading the account's workers.dev subdomain failed: the Cloudflare API at ${HOST} answered HTML where JSON was expected \\(a proxy or login page\\?\\)\\. Something between this machine and ${HOST} \\(a proxy, captive portal or login page\\) answered instead`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "WorkerScript",
    what: "truncated JSON for the version the upload made, every time",
    inject: on(cf, "GET", /\/versions\/[^/]+$/, { kind: "truncated" }),
    error: new RegExp(
      `${WORKER}: reading the version the upload made failed: the Cloudflare API at ${HOST} answered JSON that was cut off or malformed \\(tried \\d+ times over \\d+ s\\)`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "WorkerScript",
    what: "the upload hangs",
    inject: on(cf, "PUT", UPLOAD, { kind: "hang" }),
    error: new RegExp(
      `${WORKER}: uploading the Worker failed: the Cloudflare API at ${HOST} gave no answer within 1 s; Cloudflare may have taken the upload`,
    ),
    limitSeconds: FAULT_LIMITS.requestTimeoutSeconds,
  },
  {
    provider: "WorkerScript",
    what: "the Cloudflare API refuses connections",
    inject: (bench) => cf(bench).refuseConnections(),
    error: new RegExp(
      `${WORKER}: reading the Worker's migration tag failed: the Cloudflare API at ${HOST} refused the connection \\(nothing is listening there\\) \\(tried \\d+ times over \\d+ s\\)\\. Check this machine's network`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "WorkerScript",
    what: "a 403 names the token variable and the permission",
    inject: on(cf, "GET", /\/workers\/scripts$/, cloudflareError(403, 10000, "Authentication error")),
    error: new RegExp(
      `${WORKER}: reading the Worker's migration tag failed: the Cloudflare API at ${HOST} answered 403 \\(code 10000: Authentication error\\)\\. Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission Account > Workers Scripts > Edit on account ${ACCOUNT}`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "ContainerApplication",
    what: "a 429 with Retry-After: 1 on the rollout POST is waited out",
    inject: on(cf, "POST", ROLLOUTS, cloudflareError(429, 971, "rate limited", 1), 1),
    limitSeconds: 1,
  },
  {
    provider: "ContainerApplication",
    what: "a 502 on reading the application is retried",
    inject: on(cf, "GET", APPLICATION_PATH, cloudflareError(502, 10013, "bad gateway"), 1),
    limitSeconds: BUDGET,
  },
  {
    provider: "ContainerApplication",
    what: "a rollout POST whose answer is lost is found, not repeated",
    inject: (bench) =>
      cf(bench).inject({
        method: "POST",
        path: ROLLOUTS,
        fault: cloudflareError(502, 10013, "bad gateway"),
        times: 1,
        afterForwarding: true,
      }),
    limitSeconds: BUDGET,
  },
  {
    provider: "ContainerApplication",
    what: "a 503 without Retry-After on the rollout POST fails, never resent blindly",
    inject: on(cf, "POST", ROLLOUTS, cloudflareError(503, 10013, "service unavailable"), 1),
    error: new RegExp(
      `${APPLICATION}: starting a rollout of \\S+ failed: the Cloudflare API at ${HOST} answered 503 \\(code 10013: service unavailable\\); Cloudflare may have started it; the next pulumi up finds it and watches it\\.`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "ContainerApplication",
    what: "a Retry-After longer than the retry budget fails at once",
    inject: on(cf, "POST", ROLLOUTS, cloudflareError(429, 971, "rate limited", 20)),
    error: new RegExp(
      `${APPLICATION}: starting a rollout of \\S+ failed: the Cloudflare API at ${HOST} answered 429 \\(code 971: rate limited\\); it asked to be retried after 20 s \\(Retry-After\\), longer than the retry budget of 3 s \\(cloudflare\\.retryBudgetSeconds\\)\\. Wait a few minutes for the rate limit to pass`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "ContainerApplication",
    what: "a rollout status poll that hangs ends by rolloutTimeoutSeconds, and the next up resumes that rollout",
    inject: on(cf, "GET", /\/rollouts\/[^/]+$/, { kind: "hang" }),
    error: new RegExp(
      `${APPLICATION}: watching rollout (\\S+) failed: the Cloudflare API at ${HOST} gave no answer within [\\d.]+ s.* Rollout \\1 goes on at Cloudflare: the next pulumi up watches it again instead of starting another\\.`,
    ),
    limitSeconds: ROLLOUT_TIMEOUT,
  },
  {
    provider: "ContainerApplication",
    what: "a 403 on the rollout POST names the token variable and the permission",
    inject: on(cf, "POST", ROLLOUTS, cloudflareError(403, 10000, "Authentication error")),
    error: new RegExp(
      `${APPLICATION}: starting a rollout of \\S+ failed: the Cloudflare API at ${HOST} answered 403 \\(code 10000: Authentication error\\)\\. Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission Account > Containers > Edit`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "ContainerApplication",
    what: "an HTML login page instead of the application",
    inject: on(cf, "GET", APPLICATION_PATH, { kind: "html" }),
    error: new RegExp(
      `${APPLICATION}: reading the application failed: the Cloudflare API at ${HOST} answered HTML where JSON was expected`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "ContainerApplication",
    what: "the Cloudflare API goes away after the Worker's upload",
    inject: (bench) =>
      cf(bench).inject({
        method: "GET",
        path: /\/workers\/subdomain$/,
        fault: { kind: "refuse" },
        afterForwarding: true,
      }),
    error: new RegExp(
      `${APPLICATION}: reading the application failed: the Cloudflare API at ${HOST} refused the connection \\(nothing is listening there\\) \\(tried \\d+ times`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "ImageRetention",
    what: "a 503 with Retry-After: 1 on a tag deletion is waited out",
    inject: on(registry, "DELETE", /\/manifests\//, { kind: "status", status: 503, retryAfter: 1 }, 1),
    limitSeconds: 1,
  },
  {
    provider: "ImageRetention",
    what: "a 502 on the registry's catalog is retried",
    inject: on(registry, "GET", CATALOG, { kind: "status", status: 502 }, 1),
    limitSeconds: BUDGET,
  },
  {
    provider: "ImageRetention",
    what: "the registry's catalog hangs",
    inject: on(registry, "GET", CATALOG, { kind: "hang" }),
    error: new RegExp(
      `${RETENTION}: listing the registry's tags ${PRUNING} failed: Cloudflare's image registry at ${HOST} gave no answer within 1 s \\(tried \\d+ times over \\d+ s\\)`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "ImageRetention",
    what: "the registry refuses connections",
    inject: (bench) => registry(bench).refuseConnections(),
    error: new RegExp(
      `${RETENTION}: listing the registry's tags ${PRUNING} failed: Cloudflare's image registry at ${HOST} refused the connection`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "ImageRetention",
    what: "an HTML page instead of the registry's catalog",
    inject: on(registry, "GET", CATALOG, { kind: "html" }),
    error: new RegExp(
      `${RETENTION}: listing the registry's tags ${PRUNING} failed: Cloudflare's image registry at ${HOST} answered HTML where JSON was expected`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "ImageRetention",
    what: "a truncated catalog, every time",
    inject: on(registry, "GET", CATALOG, { kind: "truncated" }),
    error: new RegExp(
      `${RETENTION}: listing the registry's tags ${PRUNING} failed: Cloudflare's image registry at ${HOST} answered JSON that was cut off or malformed`,
    ),
    limitSeconds: BUDGET,
  },
  {
    provider: "ImageRetention",
    what: "a 403 on the registry credentials names the token variable and the permission",
    inject: on(cf, "POST", /\/credentials$/, cloudflareError(403, 10000, "Authentication error")),
    error: new RegExp(
      `${RETENTION}: getting registry credentials ${PRUNING} failed: the Cloudflare API at ${HOST} answered 403 \\(code 10000: Authentication error\\)\\. Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission Account > Containers > Edit`,
    ),
    limitSeconds: 1,
  },
  {
    provider: "DeployVerification",
    what: "/health hangs until verifyTimeoutSeconds",
    inject: on(health, "GET", /\/health$/, { kind: "hang" }),
    error: new RegExp(
      `DeployVerification: deploy not verified: http://${HOST}/health served no healthy answer \\(last: gave no answer within [\\d.]+ s\\) for ${VERIFY_TIMEOUT}s \\(cloudflare\\.verifyTimeoutSeconds\\)`,
    ),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeployVerification",
    what: "/health refuses connections",
    inject: (bench) => health(bench).refuseConnections(),
    error: new RegExp(
      `DeployVerification: deploy not verified: http://${HOST}/health served no healthy answer \\(last: refused the connection \\(nothing is listening there\\)\\)`,
    ),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeployVerification",
    what: "/health answers an HTML login page",
    inject: on(health, "GET", /\/health$/, { kind: "html" }),
    error: new RegExp(
      `DeployVerification: deploy not verified: http://${HOST}/health served no healthy answer \\(last: answered HTML where JSON was expected \\(a proxy or login page\\?\\)\\)`,
    ),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeployVerification",
    what: "/health answers truncated JSON",
    inject: on(health, "GET", /\/health$/, { kind: "truncated" }),
    error: new RegExp(
      `DeployVerification: deploy not verified: http://${HOST}/health served no healthy answer \\(last: answered JSON that was cut off or malformed\\)`,
    ),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeployVerification",
    what: "/health is refused by an access rule (403)",
    inject: on(health, "GET", /\/health$/, { kind: "status", status: 403 }),
    error: new RegExp(
      `DeployVerification: deploy not verified: http://${HOST}/health served no healthy answer \\(last: answered 403\\) for ${VERIFY_TIMEOUT}s \\(cloudflare\\.verifyTimeoutSeconds\\), not generation \\d+ of commit \\w+\\. Check what guards http://${HOST} \\(Cloudflare Access, WAF rules\\)`,
    ),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeployVerification",
    what: "two 503s from /health are polled through",
    inject: on(health, "GET", /\/health$/, { kind: "status", status: 503 }, 2),
    limitSeconds: VERIFY_TIMEOUT,
  },
  {
    provider: "DeploymentGeneration",
    what: "the database refuses connections",
    inject: () => undefined,
    inputs: (next, bench) => ({ ...next, databaseUrl: bench.refusingDatabaseUrl }),
    error: new RegExp(
      `deployment database unreachable at ${HOST} \\(gave up after ${CONNECT_TIMEOUT}s: ECONNREFUSED\\); check the host and port in the URL`,
    ),
    limitSeconds: CONNECT_TIMEOUT,
  },
  {
    provider: "DeploymentGeneration",
    what: "the database accepts and never answers",
    inject: () => undefined,
    inputs: (next, bench) => ({ ...next, databaseUrl: bench.silentDatabaseUrl }),
    error: new RegExp(`deployment database unreachable at ${HOST} \\(gave up after ${CONNECT_TIMEOUT}s`),
    limitSeconds: CONNECT_TIMEOUT,
  },
];

export interface FaultResult {
  name: string;
  /** The faulted up ended as the case says (succeeded, or failed with its error). */
  asExpected: boolean;
  error?: string;
  /** The error names what the case says and holds no secret and no stack trace. */
  clearError: boolean;
  /** Seconds from the first injected fault to the end of the faulted up, past the case's limit. */
  overrunSeconds: number;
  /** Second objects, rollouts or generation rows beyond what one deploy makes. */
  duplicates: number;
  /** The clean up after it succeeded and serves the generation it allocated. */
  converged: boolean;
  problems: string[];
}

/** The scenario's stack at short limits, deployed once; then run() each case in order. */
export class FaultMatrix {
  private inputs: EngineInputs;
  private constructor(
    readonly bench: FaultBench,
    private readonly silentServer: Server,
    private readonly silentSockets: Set<Socket>,
  ) {
    this.inputs = {
      ...bench.scenario.inputs(),
      callLimits: FAULT_LIMITS,
      rolloutTimeoutSeconds: ROLLOUT_TIMEOUT,
      verifyTimeoutSeconds: VERIFY_TIMEOUT,
      connectTimeoutSeconds: CONNECT_TIMEOUT,
    };
  }

  static async start(scenario: EngineScenario): Promise<FaultMatrix> {
    const bench: FaultBench = {
      scenario,
      refusingDatabaseUrl: `postgres://deployer:${DEPLOYER_PASSWORD}@127.0.0.1:${await freeLoopbackPort()}/postgres`,
      silentDatabaseUrl: "",
    };
    // A PostgreSQL port that accepts connections and never says a word.
    const held = new Set<Socket>();
    const silent = createServer((socket) => {
      bench.silentSince ??= Date.now();
      held.add(socket);
      socket.on("error", () => undefined);
      socket.on("close", () => held.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    bench.silentDatabaseUrl = `postgres://deployer:${DEPLOYER_PASSWORD}@127.0.0.1:${port}/postgres`;
    const matrix = new FaultMatrix(bench, silent, held);
    const first = await (await scenario.stack(matrix.inputs, STACK)).up();
    if (first.summary.result !== "succeeded") throw new Error("the fault matrix's first deploy failed");
    return matrix;
  }

  /** Injects the case's fault, deploys the next image, restores, deploys again; says what it saw. */
  async run(fault: FaultCase): Promise<FaultResult> {
    const { scenario } = this.bench;
    const name = `${fault.provider}: ${fault.what}`;
    const digit = this.inputs.image.endsWith("1") ? "2" : "1";
    const next = { ...this.inputs, image: imageReference(digit), gitSha: gitShaOf(imageReference(digit)) };
    // An old tag, so every deploy has one to prune.
    scenario.registry.repositories.get(`${ACCOUNT}/${REPOSITORY}`)?.push("0000000");
    const before = { rows: await scenario.generations(STACK), rollouts: scenario.fake.rollouts.length };
    const proxies = Object.values(scenario.faults);
    const injectedBefore = proxies.map((proxy) => proxy.injected.length);
    const startedAt = Date.now();
    this.bench.silentSince = undefined;
    fault.inject(this.bench);

    let error: string | undefined;
    try {
      await (await scenario.stack(fault.inputs ? fault.inputs(next, this.bench) : next, STACK)).up();
    } catch (failure) {
      error = String((failure as Error).message);
    }
    const endedAt = Date.now();
    for (const proxy of proxies) await proxy.restore();
    const firstFaultAt = this.firstFaultAt(proxies, injectedBefore) ?? this.bench.silentSince ?? startedAt;

    const problems: string[] = [];
    const asExpected = fault.error ? error !== undefined && fault.error.test(error) : error === undefined;
    if (!asExpected)
      problems.push(
        fault.error
          ? `expected an error matching ${fault.error}, got: ${this.ourLines(error)}`
          : `failed: ${this.ourLines(error)}`,
      );
    const leaks = [
      ...Object.values(SECRET_VALUES),
      FAKE_TOKEN,
      DEPLOYER_PASSWORD,
      ...scenario.fake.issuedPasswords,
    ].filter((secret) => error?.includes(secret));
    if (leaks.length > 0) problems.push(`the error holds ${leaks.length} secret value(s)`);
    const stackTrace = error !== undefined && /\n\s+at \S+ \(/.test(error);
    if (stackTrace) problems.push("the error shows a stack trace");
    const clearError = fault.error === undefined || (asExpected && leaks.length === 0 && !stackTrace);

    let converged = false;
    try {
      const clean = await (await scenario.stack(next, STACK)).up();
      converged =
        clean.summary.result === "succeeded" &&
        clean.outputs.servingGeneration.value === clean.outputs.generation.value;
    } catch (failure) {
      problems.push(`the next up did not converge: ${this.ourLines(String((failure as Error).message))}`);
    }
    const rollouts = scenario.fake.rollouts.slice(before.rollouts);
    const duplicates =
      Math.max(0, scenario.fake.applications.size - 1) +
      Math.max(0, scenario.fake.scripts.size - 1) +
      Math.max(0, rollouts.length - 1) +
      Math.abs((await scenario.generations(STACK)) - before.rows - 1);
    if (duplicates > 0)
      problems.push(
        `duplicates: ${scenario.fake.applications.size} applications, ${scenario.fake.scripts.size} Workers, ${rollouts.length} rollouts, ${(await scenario.generations(STACK)) - before.rows} generation rows`,
      );
    const overrunSeconds =
      error === undefined ? 0 : Math.max(0, (endedAt - firstFaultAt) / 1000 - fault.limitSeconds);
    this.inputs = next;
    return { name, asExpected, error, clearError, overrunSeconds, duplicates, converged, problems };
  }

  private firstFaultAt(proxies: FaultProxy[], injectedBefore: number[]): number | undefined {
    const times = proxies
      .map((proxy, index) => proxy.injectedAt.slice(injectedBefore[index])[0])
      .filter((time): time is number => time !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  }

  /** The engine output's lines that carry an error, for a readable failure. */
  private ourLines(text: string | undefined): string {
    return (text ?? "(no error)")
      .split("\n")
      .filter((line) => /error:/.test(line))
      .slice(0, 4)
      .join("\n");
  }

  async close(): Promise<void> {
    for (const socket of this.silentSockets) socket.destroy();
    await new Promise<void>((resolve) => this.silentServer.close(() => resolve()));
  }
}
