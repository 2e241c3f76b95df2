/**
 * Dynamic provider of DeployVerification: the deploy's own verdict. It polls `<url>/health` until the app
 * reports the generation and the image commit this update deployed, and fails `pulumi up` with what was
 * served instead when that does not happen in time. It runs on create and on every update that changed the
 * generation, the image or the URL, and never in preview (the engine runs `create`/`update` only in
 * updates). Each probe is bounded by what is left of the limit (and cloudflare.requestTimeoutSeconds), so
 * the verdict comes within verifyTimeoutSeconds even when /health hangs. Serialized by the engine: the methods capture nothing; SPECTRAL_VERIFY_POLL_MS sets the poll
 * interval (tests).
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CallLimits } from "@spectral/provider-support";

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
}

export interface DeployVerificationProvider extends pulumi.dynamic.ResourceProvider {
  probe(url: string, timeoutMs: number): Promise<Served>;
  verify(inputs: DeployVerificationInputs): Promise<DeployVerificationOutputs>;
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

  async verify(inputs) {
    const { DEFAULT_LIMITS } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const poll = Number(process.env.SPECTRAL_VERIFY_POLL_MS || 2000);
    const requestMs = (inputs.callLimits ?? DEFAULT_LIMITS).requestTimeoutSeconds * 1000;
    const deadline = Date.now() + inputs.timeoutSeconds * 1000;
    let served: Served = { status: "no answer yet" };
    while (Date.now() < deadline) {
      const budgetMs = Math.min(requestMs, deadline - Date.now());
      const answer = await this.probe(inputs.url, Math.max(1, budgetMs));
      // A probe the deadline cut short says nothing about /health: keep what it served before, if anything.
      const cutShort = budgetMs < requestMs && answer.status !== 200;
      if (!cutShort || served.status === "no answer yet") served = answer;
      if (
        served.status === 200 &&
        served.generation === String(inputs.generation) &&
        served.gitSha === inputs.gitSha
      ) {
        return { ...inputs, servingGeneration: inputs.generation, verifiedAt: new Date().toISOString() };
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(poll, Math.max(0, deadline - Date.now()))));
    }
    const what =
      served.status === 200
        ? `generation ${served.generation ?? "(none)"} of commit ${served.gitSha ?? "(unknown)"}`
        : `no healthy answer (last: ${served.status})`;
    // A 401 or 403 is something in front of the Worker, not the app.
    const next = /^answered 40[13]$/.test(String(served.status))
      ? `Check what guards ${inputs.url} (Cloudflare Access, WAF rules): the verification must reach /health unauthenticated`
      : `Check the Worker's logs (the Durable Object restarts its container on a new generation), the container application's rollout of ${inputs.image}, and the app's own logs`;
    throw new Error(
      `DeployVerification: deploy not verified: ${inputs.url}/health served ${what} for ${inputs.timeoutSeconds}s (cloudflare.verifyTimeoutSeconds), not generation ${inputs.generation} of commit ${inputs.gitSha}. ${next}; then run pulumi up again`,
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
