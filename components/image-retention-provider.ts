/**
 * Dynamic provider of ImageRetention: after a deploy is verified, deletes this application's images from
 * Cloudflare's registry except the N most recently deployed (the account holds at most 50 GB). It uses the
 * registry's own API, as `wrangler containers images delete` does (platform facts, "Deleting images"): the
 * catalog with tags, page by page (`Link: <...?last=...>; rel="next"`); for each tag to go, HEAD then
 * DELETE /v2/<account>/<image>/manifests/<tag>; then one PUT /v2/gc/layers, without which the deleted tags'
 * layers keep counting toward the cap. Basic auth comes from short-lived credentials the Cloudflare API
 * mints.
 *
 * Recency comes from this resource's own record of deployed tags (newest first), because the catalog has no
 * dates. Tags it has never seen deployed are deleted only once it has seen N deploys: by then each of them
 * is older than every tag it keeps. It runs on create and when the deployed tag changes, never in preview.
 * Every call goes through the shared call policy (@spectral/provider-support): bounded in time, reads and
 * (idempotent) tag deletions retried, and each error says the deploy itself succeeded.
 * Serialized by the engine: the methods capture nothing and read CLOUDFLARE_API_TOKEN (and, for tests,
 * CLOUDFLARE_API_BASE_URL and SPECTRAL_REGISTRY_URL) when called.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CallLimits, ServiceCall } from "@spectral/provider-support";

export interface ImageRetentionInputs {
  accountId: string;
  /** The image's name in the registry: registry.cloudflare.com/<account>/<repository>. */
  repository: string;
  /** The tag this deploy pushed and now serves. */
  tag: string;
  /** How many deployed images to keep, the current one included. */
  keep: number;
  /** Time bounds of each call (cloudflare.requestTimeoutSeconds, retryBudgetSeconds). */
  callLimits?: CallLimits;
}

export interface ImageRetentionOutputs extends ImageRetentionInputs {
  /** Deployed tags, newest first, at most `keep`. */
  kept: string[];
  /** What the last run deleted. */
  deleted: string[];
}

/** One registry request under the call policy: `doing` names it in errors. */
type RegistryRequest = (
  doing: string,
  path: string,
  init: RequestInit,
  expect?: { accept?: number[]; expectJson?: boolean },
) => Promise<Response>;

export interface ImageRetentionProvider extends pulumi.dynamic.ResourceProvider {
  plan(inputs: ImageRetentionInputs, history: string[], tags: string[]): { kept: string[]; remove: string[] };
  nextCatalogPage(link: string | null): string | undefined;
  tagsOf(repository: string, request: RegistryRequest): Promise<string[]>;
  prune(inputs: ImageRetentionInputs, history: string[], retire?: boolean): Promise<ImageRetentionOutputs>;
}

export const imageRetentionProvider: ImageRetentionProvider = {
  /** Pure: what to keep (the deployed tag first) and what to delete from the repository's tags. */
  plan(inputs, history, tags) {
    const kept = [inputs.tag, ...history.filter((tag) => tag !== inputs.tag)].slice(0, inputs.keep);
    const knowsEnough = kept.length >= inputs.keep;
    const remove = tags.filter(
      (tag) => !tag.startsWith("sha256") && !kept.includes(tag) && (knowsEnough || history.includes(tag)),
    );
    return { kept, remove };
  },

  /** Pure: the `last` cursor of a catalog page's `Link: <...>; rel="next"` header, if there is a next page. */
  nextCatalogPage(link) {
    const next = (link ?? "").split(",").find((each) => /;\s*rel="?next"?/.test(each));
    const target = next ? /<([^>]+)>/.exec(next)?.[1] : undefined;
    return target ? (new URL(target, "http://registry").searchParams.get("last") ?? undefined) : undefined;
  },

  /** The repository's tags, from every page of the catalog. */
  async tagsOf(repository, request) {
    const tags: string[] = [];
    let last: string | undefined;
    do {
      const page = await request(
        "listing the registry's tags",
        `/v2/_catalog?tags=true${last === undefined ? "" : `&last=${encodeURIComponent(last)}`}`,
        {},
        { expectJson: true },
      );
      const { repositories } = (await page.json()) as { repositories?: Record<string, string[]> };
      tags.push(...(repositories?.[repository] ?? repositories?.[`/${repository}`] ?? []));
      last = this.nextCatalogPage(page.headers.get("link"));
    } while (last !== undefined);
    return tags;
  },

  /** With `retire`, the repository is no longer deployed: every tag of `history` goes, nothing is kept. */
  async prune(inputs, history, retire = false) {
    const { cloudflareCall, httpCall } =
      require("@spectral/provider-support") as typeof import("@spectral/provider-support");
    const registry = process.env.SPECTRAL_REGISTRY_URL || "https://registry.cloudflare.com";
    const repository = `${inputs.accountId}/${inputs.repository}`;
    const call = (doing: string): ServiceCall & { permission: string } => ({
      resource: `ImageRetention ${repository}`,
      // The prune runs after the deploy was verified: its failure must not read as a failed deploy.
      doing: `${doing} (the deploy itself succeeded; only pruning old images failed)`,
      permission: "Account > Containers > Edit",
      account: inputs.accountId,
      limits: inputs.callLimits,
    });
    // Minting credentials changes nothing that matters if repeated, so it is retried like a read.
    const { password } = await cloudflareCall(call("getting registry credentials"), (client) =>
      client.containers.registries.credentials.generate("registry.cloudflare.com", {
        account_id: inputs.accountId,
        expiration_minutes: 5,
        permissions: ["pull", "push"],
      }),
    );
    const registryCall = (doing: string) => ({
      ...call(doing),
      service: "Cloudflare's image registry",
      host: new URL(registry).host,
    });
    const headers = {
      Authorization: `Basic ${Buffer.from(`v1:${password}`).toString("base64")}`,
      Accept:
        "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
    };
    // Every registry request here is idempotent (a repeated DELETE answers 404, which counts as done), so
    // each is retried like a read.
    const request: RegistryRequest = (doing, path, init, expect) =>
      httpCall(registryCall(doing), `${registry}${path}`, { ...init, headers }, expect);
    const tags = await this.tagsOf(repository, request);
    const { kept, remove } = retire
      ? { kept: [], remove: tags.filter((tag) => history.includes(tag)) }
      : this.plan(inputs, history, tags);
    const deleted: string[] = [];
    for (const tag of remove) {
      const manifest = `/v2/${repository}/manifests/${tag}`;
      const found = await request(`reading tag ${tag}`, manifest, { method: "HEAD" }, { accept: [404] });
      if (found.status !== 404)
        await request(`deleting tag ${tag}`, manifest, { method: "DELETE" }, { accept: [404] });
      deleted.push(tag);
    }
    // A deleted tag's layers stay stored until the registry collects them.
    if (deleted.length > 0)
      await request("collecting the deleted images' layers", "/v2/gc/layers", { method: "PUT" });
    return { ...inputs, kept, deleted };
  },

  async diff(_id: string, olds: ImageRetentionOutputs, news: ImageRetentionInputs) {
    const changed = (["accountId", "repository", "tag", "keep"] as const).filter(
      (key) => olds[key] !== news[key],
    );
    return { changes: changed.length > 0, replaces: [] };
  },

  async create(inputs: ImageRetentionInputs) {
    return { id: `${inputs.accountId}/${inputs.repository}`, outs: await this.prune(inputs, []) };
  },

  async update(_id: string, olds: ImageRetentionOutputs, news: ImageRetentionInputs) {
    const moved = olds.accountId !== news.accountId || olds.repository !== news.repository;
    if (!moved) return { outs: await this.prune(news, olds.kept ?? []) };
    // A renamed repository starts its own history; the images this program deployed from the old one go,
    // now that the deploy from the new one is verified.
    await this.prune(olds, olds.kept ?? [], true);
    return { outs: await this.prune(news, []) };
  },

  async delete() {
    // Images stay: removing this program's state is no reason to delete what a rollback might need.
  },
};
