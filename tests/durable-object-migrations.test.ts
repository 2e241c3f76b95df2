// Which Durable Object migrations a new Worker version carries: the pure rule, and the provider's create
// (serialized, in a fresh process) against the fake Cloudflare API.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type DurableObjectMigration,
  durableObjectMigrationsProvider as provider,
} from "../components/durable-object-migrations-provider";
import { FAKE_TOKEN, type FakeCloudflare, startFakeCloudflare } from "./support/fake-cloudflare";
import { callSerialized, serializeProvider } from "./support/serialized-provider";

const v1: DurableObjectMigration = { tag: "v1", newSqliteClasses: ["SpectralApp"] };
const v2: DurableObjectMigration = {
  tag: "v2",
  renamedClasses: [{ from: "SpectralApp", to: "SpectralAppV2" }],
};

describe("pending migrations (pure)", () => {
  it("sends every migration to a Worker that has none, without an old tag", () => {
    expect(provider.pending([v1], undefined)).toEqual({
      newTag: "v1",
      steps: [{ newSqliteClasses: ["SpectralApp"] }],
    });
  });

  it("sends nothing once the Worker has the last tag, so the first migration is never applied twice", () => {
    expect(provider.pending([v1], "v1")).toBeNull();
  });

  it("sends only the later migrations, checked against the deployed tag", () => {
    expect(provider.pending([v1, v2], "v1")).toEqual({
      oldTag: "v1",
      newTag: "v2",
      steps: [{ renamedClasses: v2.renamedClasses }],
    });
  });

  it("refuses a deployed tag it does not know, and says why", () => {
    expect(() => provider.pending([v1], "v7")).toThrow(
      "the Worker's deployed Durable Object migration tag \"v7\" is not in this program's migration history",
    );
  });
});

describe("DurableObjectMigrations provider (serialized, fake Cloudflare API)", () => {
  let fake: FakeCloudflare;
  let file: string;
  const inputs = {
    accountId: "acct",
    scriptName: "spectral-alpha",
    history: [v1],
    versionHash: "a".repeat(64),
  };
  const create = () =>
    callSerialized(file, "create", [inputs], {
      CLOUDFLARE_API_TOKEN: FAKE_TOKEN,
      CLOUDFLARE_API_BASE_URL: fake.baseUrl,
    });

  beforeAll(async () => {
    fake = await startFakeCloudflare();
    file = await serializeProvider(provider);
  });
  afterAll(() => fake.close());

  it("reads the deployed tag when a version is about to be made: none for a new Worker", async () => {
    const created = await create();
    expect(created.error).toBe("");
    expect(created.value.outs.pending).toEqual({
      newTag: "v1",
      steps: [{ newSqliteClasses: ["SpectralApp"] }],
    });
    expect(fake.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      "GET /client/v4/accounts/acct/workers/scripts",
    ]);
  });

  it("answers null for a Worker already at v1", async () => {
    fake.scripts.set("spectral-alpha", { migration_tag: "v1" });
    expect((await create()).value.outs.pending).toBeNull();
  });

  it("replaces itself, and so asks again, exactly when the version's other inputs change", async () => {
    const olds = { ...inputs, pending: null };
    expect(await provider.diff?.("id", olds, inputs)).toMatchObject({ changes: false });
    expect(await provider.diff?.("id", olds, { ...inputs, versionHash: "b".repeat(64) })).toMatchObject({
      changes: true,
      replaces: ["versionHash"],
    });
  });
});
