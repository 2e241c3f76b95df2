// ImageRetention: the pure rule, and the provider against the registry and Cloudflare API stand-ins.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type ImageRetentionInputs,
  imageRetentionProvider as provider,
} from "../components/image-retention-provider";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "./support/fake-cloudflare";
import { type FakeRegistry, LAYER_BYTES, startFakeRegistry } from "./support/fake-registry";

const inputs: ImageRetentionInputs = { accountId: "acct", repository: "app", tag: "c3", keep: 2 };

describe("image retention rule (pure)", () => {
  it("keeps the deployed tag and the most recent ones it saw deployed, and deletes those that fell out", () => {
    expect(provider.plan(inputs, ["b2", "a1"], ["a1", "b2", "c3", "sha256:ff"])).toEqual({
      kept: ["c3", "b2"],
      remove: ["a1"],
    });
  });

  it("deletes a tag it never saw deployed only once it knows `keep` deploys: each of those is newer", () => {
    expect(provider.plan(inputs, [], ["old", "c3"])).toEqual({ kept: ["c3"], remove: [] });
    expect(provider.plan(inputs, ["b2"], ["old", "b2", "c3"])).toEqual({
      kept: ["c3", "b2"],
      remove: ["old"],
    });
  });

  it("never deletes the deployed tag, even redeployed, nor digests", () => {
    expect(provider.plan({ ...inputs, keep: 1 }, ["c3", "b2"], ["c3", "b2", "sha256:aa"])).toEqual({
      kept: ["c3"],
      remove: ["b2"],
    });
  });
});

describe("ImageRetention provider (registry and Cloudflare API stand-ins)", () => {
  let cloudflare: FakeCloudflare;
  let registry: FakeRegistry;
  beforeAll(async () => {
    cloudflare = await startFakeCloudflare();
    registry = await startFakeRegistry(() => cloudflare.issuedPasswords);
    Object.assign(process.env, {
      CLOUDFLARE_API_TOKEN: FAKE_TOKEN,
      CLOUDFLARE_API_BASE_URL: cloudflare.baseUrl,
      SPECTRAL_REGISTRY_URL: registry.url,
    });
  });
  afterAll(async () => {
    await registry.close();
    await cloudflare.close();
  });

  it("deletes the tags that fell out with credentials the API minted, and keeps the rest", async () => {
    registry.repositories.set("acct/app", ["a1", "b2", "c3"]);
    registry.repositories.set("acct/other", ["a1"]);
    const outs = await provider.prune(inputs, ["b2", "a1"]);
    expect(outs).toMatchObject({ kept: ["c3", "b2"], deleted: ["a1"] });
    expect(registry.repositories.get("acct/app")).toEqual(["b2", "c3"]);
    expect(registry.repositories.get("acct/other")).toEqual(["a1"]);
  });

  it("reads every catalog page, reads each tag before deleting it, then collects the layers once: the stored bytes the 50 GB cap counts go down", async () => {
    registry.repositories.clear();
    registry.repositories.set("acct/aaa", ["x"]);
    registry.repositories.set("acct/app", ["a1", "b2", "c3", "d4"]);
    registry.repositories.set("acct/zzz", ["y"]);
    registry.catalogPageSize = 1;
    registry.requests.length = 0;
    const before = registry.storedBytes();
    try {
      const outs = await provider.prune(inputs, ["b2", "a1"]);
      expect(outs).toMatchObject({ kept: ["c3", "b2"], deleted: ["a1", "d4"] });
    } finally {
      registry.catalogPageSize = 100;
    }
    expect(registry.requests).toEqual([
      "GET /v2/_catalog?tags=true",
      "GET /v2/_catalog?tags=true&last=acct%2Faaa",
      "GET /v2/_catalog?tags=true&last=acct%2Fapp",
      "HEAD /v2/acct/app/manifests/a1",
      "DELETE /v2/acct/app/manifests/a1",
      "HEAD /v2/acct/app/manifests/d4",
      "DELETE /v2/acct/app/manifests/d4",
      "PUT /v2/gc/layers",
    ]);
    // Only the four tags left hold storage now (x, b2, c3, y): the collection freed the deleted ones' layers.
    expect(registry.storedBytes()).toBe(4 * LAYER_BYTES);
    expect(before).toBeGreaterThanOrEqual(6 * LAYER_BYTES);
  });

  it("nothing to delete means one catalog read and no collection", async () => {
    registry.repositories.clear();
    registry.repositories.set("acct/app", ["b2", "c3"]);
    registry.requests.length = 0;
    const outs = await provider.prune(inputs, ["b2"]);
    expect(outs).toMatchObject({ kept: ["c3", "b2"], deleted: [] });
    expect(registry.requests).toEqual(["GET /v2/_catalog?tags=true"]);
  });

  it("a renamed repository starts its own history and frees the images this program deployed from the old one", async () => {
    registry.repositories.set("acct/app", ["a1", "b2", "c3", "not-ours"]);
    registry.repositories.set("acct/renamed", ["d4"]);
    const olds = { ...inputs, kept: ["c3", "b2"], deleted: [] };
    const result = (await provider.update?.("acct/app", olds, {
      ...inputs,
      repository: "renamed",
      tag: "d4",
    })) as {
      outs: { kept: string[] };
    };
    expect(result.outs.kept).toEqual(["d4"]);
    expect(registry.repositories.get("acct/app")).toEqual(["a1", "not-ours"]);
    expect(registry.repositories.get("acct/renamed")).toEqual(["d4"]);
  });

  it("says the deploy succeeded and what failed when the registry refuses it", async () => {
    cloudflare.issuedPasswords.length = 0;
    const refused = startFakeRegistry(() => []);
    const other = await refused;
    process.env.SPECTRAL_REGISTRY_URL = other.url;
    try {
      await expect(provider.prune(inputs, [])).rejects.toThrow(
        `ImageRetention acct/app: listing the registry's tags (the deploy itself succeeded; only pruning old images failed) failed: Cloudflare's image registry at ${new URL(other.url).host} answered 401.`,
      );
    } finally {
      process.env.SPECTRAL_REGISTRY_URL = registry.url;
      await other.close();
    }
  });
});
