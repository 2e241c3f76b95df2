/**
 * Dynamic provider of DeployVerification: the deploy's own verdict. It polls the Worker's cutover status
 * (`<url><statusPath>`) until every instance serves the generation and the image commit this update
 * deployed, then `<url>/health` until the app itself reports them. It fails `pulumi up` at once, naming the
 * generation, the instance and the reason, when an instance reports that the generation did not start (the
 * old one still serves there), and with what was served instead when nothing is verified in time. It runs on create and on every update that changed the
 * generation, the image or the URL, and never in preview (the engine runs `create`/`update` only in
 * updates). Each probe is bounded by what is left of the limit (and cloudflare.requestTimeoutSeconds), so
 * the verdict comes within verifyTimeoutSeconds even when /health hangs. Serialized by the engine: the methods capture nothing; SPECTRAL_VERIFY_POLL_MS sets the poll
 * interval (tests).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CallLimits } from "@spectral/provider-support";
import type { InstanceStatus } from "../worker/src/cutover";

export interface DeployVerificationInputs {
  /** Where the API answers: the stack's `url` output. */
  url: string;
  /** The generation this update deployed: the container's SPECTRAL_GENERATION. */
  generation: number;
  /** The commit the image was built from: /health's build.sha. */
  gitSha: string;
  /** The image digest reference, so a new image is verified too. */
  image: string;
  /** How long to wait, in seconds (cloudflare.verifyTimeoutSeconds). */
  timeoutSeconds: number;
  /** Time bounds of each probe (cloudflare.requestTimeoutSeconds). */
  callLimits?: CallLimits;
  /** The Worker's cutover status path (worker/src/cutover.ts); set by DeployVerification itself. */
  statusPath?: string;
}

export interface DeployVerificationOutputs extends DeployVerificationInputs {
  /** The generation /health reported when the check passed. */
  servingGeneration: number;
  verifiedAt: string;
}

/** What a /health answer served, for the verdict and its error message. */
export interface Served {
  status: number | string;
  generation?: string | null;
  gitSha?: string;
  /** Instances the cutover status showed not serving this generation yet (then /health was not asked). */
  behind?: InstanceStatus[];
}

export interface DeployVerificationProvider extends pulumi.dynamic.ResourceProvider {
  probe(url: string, timeoutMs: number): Promise<Served>;
  /** Every instance's cutover status, or why there is none. */
  instances(url: string, timeoutMs: number): Promise<InstanceStatus[] | Served>;
  /** One poll: the cutover status, then (once every instance is current) /health. */
  look(inputs: DeployVerificationInputs, timeoutMs: number): Promise<Served>;
  verify(inputs: DeployVerificationInputs): Promise<DeployVerificationOutputs>;
}

/** An instance whose start of `generation` failed, as an error for `pulumi up`. */
export function failedStartMessage(inputs: DeployVerificationInputs, instance: InstanceStatus): string {
  const kept = instance.serving
    ? `Generation ${instance.serving.generation} still serves there: no request went to the new one`
    : "Nothing served there before, so that instance answers 503";
  return `DeployVerification: generation ${inputs.generation} did not start on ${instance.instance}: ${instance.failed?.reason}. ${kept}. Fix what the container's log for generation ${inputs.generation} shows, then run pulumi up again (a new generation starts clean)`;
}

function describeInstance({ instance, serving }: InstanceStatus): string {
  return `${instance}: ${serving ? `generation ${serving.generation} of commit ${serving.gitSha}` : "nothing yet"}`;
}

/** Instances not yet serving this generation of this commit. */
export function instancesBehind(
  inputs: DeployVerificationInputs,
  instances: InstanceStatus[],
): InstanceStatus[] {
  return instances.filter(
    ({ serving }) => serving?.generation !== String(inputs.generation) || serving.gitSha !== inputs.gitSha,
  );
}

export const deployVerificationProvider: DeployVerificationProvider = {
  async probe(url, timeoutMs) {
    const { attemptWords, boundedFetch } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    try {
      const response = await boundedFetch({ timeoutMs, expectJson: true })(
        `${url.replace(/\/+$/, "")}/health`,
      );
      if (response.status !== 200) return { status: `answered ${response.status}` };
      const body = (await response.json()) as { generation?: string | null; build?: { sha?: string } };
      return { status: 200, generation: body.generation ?? null, gitSha: body.build?.sha };
    } catch (error) {
      return { status: attemptWords(error) };
    }
  },

  async instances(url, timeoutMs) {
    const { attemptWords, boundedFetch } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    try {
      const response = await boundedFetch({ timeoutMs, expectJson: true })(url);
      if (response.status !== 200) return { status: `answered ${response.status}` };
      return ((await response.json()) as { instances: InstanceStatus[] }).instances;
    } catch (error) {
      return { status: attemptWords(error) };
    }
  },

  async look(inputs, timeoutMs) {
    if (inputs.statusPath) {
      const instances = await this.instances(
        `${inputs.url.replace(/\/+$/, "")}${inputs.statusPath}`,
        timeoutMs,
      );
      if (!Array.isArray(instances)) return instances;
      const failed = instances.find((instance) => instance.failed?.generation === String(inputs.generation));
      if (failed) throw new Error(failedStartMessage(inputs, failed));
      const behind = instancesBehind(inputs, instances);
      if (behind.length > 0) return { status: 200, behind };
    }
    return this.probe(inputs.url, timeoutMs);
  },

  async verify(inputs) {
    const { DEFAULT_LIMITS } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const poll = Number(process.env.SPECTRAL_VERIFY_POLL_MS || 2000);
    const requestMs = (inputs.callLimits ?? DEFAULT_LIMITS).requestTimeoutSeconds * 1000;
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    let served: Served = { status: "no answer yet" };
    while (Date.now() < deadline) {
      const budgetMs = Math.min(requestMs, deadline - Date.now());
      const answer = await this.look(inputs, Math.max(1, budgetMs));
      // A probe the deadline cut short says nothing about /health: keep what it served before, if anything.
      const cutShort = budgetMs < requestMs && answer.status !== 200;
      if (!cutShort || served.status === "no answer yet") served = answer;
      if (
        served.status === 200 &&
        !served.behind &&
        served.generation === String(inputs.generation) &&
        served.gitSha === inputs.gitSha
      ) {
        return { ...inputs, servingGeneration: inputs.generation, verifiedAt: new Date().toISOString() };
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(poll, Math.max(0, deadline - Date.now()))));
    }
    // A 401 or 403 is something in front of the Worker, not the app.
    const next = /^answered 40[13]$/.test(String(served.status))
      ? `Check what guards ${inputs.url} (Cloudflare Access, WAF rules): the verification must reach it unauthenticated`
      : `Check the Worker's logs (each instance starts a new generation beside the old one), the container application's rollout of ${inputs.image}, and the app's own logs`;
    const wanted = `generation ${inputs.generation} of commit ${inputs.gitSha}`;
    if (served.behind)
      throw new Error(
        `DeployVerification: deploy not verified: for ${inputs.timeoutSeconds}s (cloudflare.verifyTimeoutSeconds), ${inputs.url}${inputs.statusPath} showed ${served.behind.length} instance(s) not serving ${wanted} (${served.behind.map(describeInstance).join("; ")}). ${next}; then run pulumi up again`,
      );
    const what =
      served.status === 200
        ? `generation ${served.generation ?? "(none)"} of commit ${served.gitSha ?? "(unknown)"}`
        : `no healthy answer (last: ${served.status})`;
    throw new Error(
      `DeployVerification: deploy not verified: ${inputs.url}/health served ${what} for ${inputs.timeoutSeconds}s (cloudflare.verifyTimeoutSeconds), not ${wanted}. ${next}; then run pulumi up again`,
    );
  },

  async diff(_id: string, olds: DeployVerificationOutputs, news: DeployVerificationInputs) {
    const changed = (["url", "generation", "gitSha", "image"] as const).filter(
      (key) => olds[key] !== news[key],
    );
    return { changes: changed.length > 0 || olds.timeoutSeconds !== news.timeoutSeconds, replaces: [] };
  },

  async create(inputs: DeployVerificationInputs) {
    return { id: `${inputs.generation}`, outs: await this.verify(inputs) };
  },

  async update(_id: string, olds: DeployVerificationOutputs, news: DeployVerificationInputs) {
    const deployed = (["url", "generation", "gitSha", "image"] as const).some(
      (key) => olds[key] !== news[key],
    );
    // A new timeout alone verifies nothing new.
    return { outs: deployed ? await this.verify(news) : { ...olds, timeoutSeconds: news.timeoutSeconds } };
  },
};
