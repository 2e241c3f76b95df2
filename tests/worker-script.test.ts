// WorkerScript: the pure rules, and the provider (serialized, in a fresh process) against the Cloudflare API
// stand-in's Workers area (tests/support/fake-cloudflare-workers.ts).
import Cloudflare from "cloudflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type DurableObjectMigration,
  workerScriptProvider as provider,
  type WorkerScriptInputs,
} from "../components/worker-script-provider";
import { FAKE_TOKEN, type FakeCloudflare, lostAnswer, startFakeCloudflare } from "./support/fake-cloudflare";
import type { Upload } from "./support/fake-cloudflare-workers";
import { callSerialized, serializeProvider } from "./support/serialized-provider";

const v1: DurableObjectMigration = { tag: "v1", newSqliteClasses: ["SpectralApp"] };
const v2: DurableObjectMigration = { tag: "v2", newSqliteClasses: ["SpectralScratch"] };
const ACCOUNT = "0000000000000000000000000000a1fa";

const inputs: WorkerScriptInputs = {
  accountId: ACCOUNT,
  scriptName: "spectral-alpha",
  mainModule: "index.js",
  code: "export default { fetch() { return new Response('ok'); } };\n",
  compatibilityDate: "2026-11-01",
  compatibilityFlags: [],
  bindings: [
    { type: "durable_object_namespace", name: "SPECTRAL_APP", className: "SpectralApp" },
    { type: "plain_text", name: "SPECTRAL_GENERATION", text: "7" },
    { type: "secret_text", name: "STRIPE_SECRET_KEY" },
  ],
  containerClass: "SpectralApp",
  migrations: [v1],
  codeUpdateStrategy: { mode: "immediate" },
  secret_STRIPE_SECRET_KEY: "sk_test_worker_script",
};

describe("WorkerScript rules (pure)", () => {
  /** What the provider stores after an upload. */
  const outputs = {
    ...inputs,
    namespaceId: "ns",
    migrationTag: "v1",
    workersDevUrl: "https://x",
    stateVersion: 2,
  };

  it("sends every migration to a Worker that has none, without an old tag, in Cloudflare's snake case", () => {
    expect(provider.pendingMigrations([v1], undefined)).toEqual({
      new_tag: "v1",
      steps: [{ new_sqlite_classes: ["SpectralApp"] }],
    });
  });

  it("sends nothing once the Worker has the last tag, and only the later ones after an older tag", () => {
    expect(provider.pendingMigrations([v1], "v1")).toBeNull();
    expect(provider.pendingMigrations([v1, v2], "v1")).toEqual({
      old_tag: "v1",
      new_tag: "v2",
      steps: [{ new_sqlite_classes: ["SpectralScratch"] }],
    });
  });

  it("refuses a tag it does not know, and says why", () => {
    expect(() => provider.pendingMigrations([v1], "v7")).toThrow(
      "the Worker's Durable Object migration tag \"v7\" is not in this program's migration history",
    );
  });

  it("builds the upload metadata: the secret from its own input, the container class, the code update strategy, observability", () => {
    expect(provider.metadata(inputs, null)).toEqual({
      main_module: "index.js",
      compatibility_date: "2026-11-01",
      compatibility_flags: [],
      bindings: [
        { type: "durable_object_namespace", name: "SPECTRAL_APP", class_name: "SpectralApp" },
        { type: "plain_text", name: "SPECTRAL_GENERATION", text: "7" },
        { type: "secret_text", name: "STRIPE_SECRET_KEY", text: "sk_test_worker_script" },
      ],
      containers: [{ class_name: "SpectralApp" }],
      code_update_strategy: { mode: "immediate" },
      observability: { enabled: true },
    });
  });

  it("diffs every input, the secrets included, and replaces only for a new account or name, creating the new Worker first", async () => {
    expect(await provider.diff?.("id", outputs, inputs)).toMatchObject({ changes: false });
    expect(
      await provider.diff?.("id", outputs, { ...inputs, secret_STRIPE_SECRET_KEY: "rotated" }),
    ).toMatchObject({
      changes: true,
      replaces: [],
    });
    expect(await provider.diff?.("id", outputs, { ...inputs, scriptName: "other" })).toMatchObject({
      replaces: ["scriptName"],
      deleteBeforeReplace: false,
    });
  });

  it("diffs: this file's code (__provider) and callLimits change nothing; state an older provider wrote is rewritten once", async () => {
    const olds = { ...outputs, __provider: "exports.handler = () => 1; // before" };
    const news = {
      ...inputs,
      __provider: "exports.handler = () => 1; // after",
      callLimits: { requestTimeoutSeconds: 5, retryBudgetSeconds: 1 },
    };
    expect(await provider.diff?.("id", olds, news)).toMatchObject({ changes: false, replaces: [] });
    const { stateVersion: _version, ...older } = outputs;
    expect(await provider.diff?.("id", older, inputs)).toMatchObject({ changes: true, replaces: [] });
  });

  it("maps the Worker's live bindings to ours in the declared order; a secret keeps its digest, an added one shows as drift", () => {
    const declared = [
      { type: "durable_object_namespace" as const, name: "SPECTRAL_APP", className: "SpectralApp" },
      { type: "plain_text" as const, name: "SPECTRAL_GENERATION", text: "7" },
      { type: "secret_text" as const, name: "STRIPE_SECRET_KEY", digest: "d1" },
    ];
    expect(
      provider.bindingsOf(
        [
          { type: "secret_text", name: "WRANGLER_ADDED" },
          { type: "secret_text", name: "STRIPE_SECRET_KEY" },
          { type: "plain_text", name: "SPECTRAL_GENERATION", text: "6" },
          {
            type: "durable_object_namespace",
            name: "SPECTRAL_APP",
            class_name: "SpectralApp",
            namespace_id: "n",
          },
        ],
        declared,
      ),
    ).toEqual([
      declared[0],
      { type: "plain_text", name: "SPECTRAL_GENERATION", text: "6" },
      declared[2],
      { type: "secret_text", name: "WRANGLER_ADDED" },
    ]);
  });
});

describe("WorkerScript provider (serialized, Cloudflare API stand-in)", () => {
  let fake: FakeCloudflare;
  let file: string;
  const env = () => ({ CLOUDFLARE_API_TOKEN: FAKE_TOKEN, CLOUDFLARE_API_BASE_URL: fake.baseUrl });
  const call = (method: string, args: unknown[]) => callSerialized(file, method, args, env());
  const uploads = () =>
    fake.requests
      .filter(
        (request) => request.method === "PUT" && request.path.endsWith("/workers/scripts/spectral-alpha"),
      )
      .map((request) => request.body as Upload);

  /** The next upload answered with this failure instead. */
  const failedUpload = (status: number, code: number, message: string) => ({
    method: "PUT",
    pathPattern: /workers\/scripts\/spectral-alpha$/,
    status,
    code,
    message,
  });

  beforeAll(async () => {
    fake = await startFakeCloudflare();
    file = await serializeProvider(provider);
  });
  afterAll(() => fake.close());
  beforeEach(() => {
    fake.requests.length = 0;
    fake.scripts.clear();
    fake.namespaces.length = 0;
    fake.domains.length = 0;
  });

  it("uploads through the script upload with the migration, and reads the namespace Cloudflare assigned", async () => {
    const created = await call("create", [inputs]);
    expect(created.error).toBe("");
    const [upload] = uploads();
    expect([...upload.parts.keys()]).toEqual(["index.js"]);
    expect(upload.metadata).toMatchObject({
      main_module: "index.js",
      containers: [{ class_name: "SpectralApp" }],
      migrations: { new_tag: "v1", steps: [{ new_sqlite_classes: ["SpectralApp"] }] },
    });
    expect(fake.namespaces).toHaveLength(1);
    expect(created.value.outs).toMatchObject({
      namespaceId: fake.namespaces[0].id,
      migrationTag: "v1",
      workersDevUrl: "https://spectral-alpha.spectral-test.workers.dev",
    });
    // No version upload: the one version read is the upload's own (its deployment_id), as wrangler reads it.
    const version = fake.scripts.get("spectral-alpha")?.versions?.[0];
    expect(
      fake.requests.filter((request) => request.path.includes("/versions")).map((r) => r.method + r.path),
    ).toEqual([`GET/client/v4/accounts/${ACCOUNT}/workers/scripts/spectral-alpha/versions/${version?.id}`]);
    expect(upload.metadata.code_update_strategy).toEqual({ mode: "immediate" });
  });

  it("a 429 with Retry-After on the upload is waited out and sent again (Cloudflare did not carry it out)", async () => {
    fake.failNext = {
      ...failedUpload(429, 971, "Please wait and consider throttling your request speed"),
      retryAfter: 1,
    };
    const created = await call("create", [inputs]);
    expect(created.error).toBe("");
    expect(uploads().map((upload) => upload.metadata.main_module)).toEqual(["index.js", "index.js"]);
    expect(fake.requests.filter((request) => request.status === 429)).toHaveLength(1);
  });

  it("retries the version read while Cloudflare answers 100146 (not propagated yet), as wrangler does", async () => {
    fake.propagationReads = 2;
    try {
      const created = await call("create", [inputs]);
      expect(created.error).toBe("");
      expect(created.value.outs.namespaceId).toBe(fake.namespaces[0].id);
      expect(fake.requests.filter((request) => request.path.includes("/versions/"))).toHaveLength(3);
    } finally {
      fake.propagationReads = 0;
    }
  });

  it("gives up after five 100146 answers with Cloudflare's code and message", async () => {
    fake.propagationReads = 9;
    try {
      const created = await call("create", [inputs]);
      expect(created.status).toBe(1);
      expect(created.error).toContain("reading the version the upload made failed: the Cloudflare API at");
      expect(created.error).toContain("code 100146: This Worker version does not exist yet.");
      expect(fake.requests.filter((request) => request.path.includes("/versions/"))).toHaveLength(5);
    } finally {
      fake.propagationReads = 0;
    }
  });

  it("declares every binding and sends no keep_bindings: a secret put outside the program is gone after its next upload", async () => {
    const created = await call("create", [inputs]);
    await new Cloudflare({
      apiToken: FAKE_TOKEN,
      baseURL: fake.baseUrl,
      maxRetries: 0,
    }).workers.scripts.secrets.update("spectral-alpha", {
      account_id: ACCOUNT,
      name: "PUT_BY_HAND",
      text: "x",
      type: "secret_text",
    });
    expect(fake.scripts.get("spectral-alpha")?.bindings?.map((binding) => binding.name)).toContain(
      "PUT_BY_HAND",
    );
    const changed = { ...inputs, code: `${inputs.code}// changed\n` };
    const updated = await call("update", ["spectral-alpha", created.value.outs, changed]);
    expect(updated.error).toBe("");
    expect(uploads().at(-1)?.metadata.keep_bindings).toBeUndefined();
    expect(fake.scripts.get("spectral-alpha")?.bindings?.map((binding) => binding.name)).not.toContain(
      "PUT_BY_HAND",
    );
  });

  it("sends later migrations exactly once: an update after v1 sends v2 with old_tag v1, the next sends none", async () => {
    await call("create", [inputs]);
    const withV2 = { ...inputs, migrations: [v1, v2] };
    await call("update", ["spectral-alpha", inputs, withV2]);
    await call("update", ["spectral-alpha", withV2, { ...withV2, code: `${inputs.code}// changed\n` }]);
    expect(uploads().map((upload) => upload.metadata.migrations)).toEqual([
      { new_tag: "v1", steps: [{ new_sqlite_classes: ["SpectralApp"] }] },
      { old_tag: "v1", new_tag: "v2", steps: [{ new_sqlite_classes: ["SpectralScratch"] }] },
      undefined,
    ]);
    expect(fake.scripts.get("spectral-alpha")?.migration_tag).toBe("v2");
  });

  it("counts an upload whose answer was lost as done when the Worker's tag moved to its migration", async () => {
    fake.failNext = lostAnswer("PUT", /workers\/scripts\/spectral-alpha$/);
    const created = await call("create", [inputs]);
    expect(created.error).toBe("");
    expect(created.value.outs.migrationTag).toBe("v1");
    expect(uploads()).toHaveLength(1);
  });

  it("reports a failed upload with Cloudflare's code and message, and never the secret", async () => {
    fake.failNext = failedUpload(400, 10021, "Uncaught SyntaxError at index.js:1");
    const created = await call("create", [inputs]);
    expect(created.status).toBe(1);
    expect(created.error).toBe(
      `WorkerScript spectral-alpha: uploading the Worker failed: the Cloudflare API at ${new URL(fake.baseUrl).host} answered 400 (code 10021: Uncaught SyntaxError at index.js:1). Fix what the answer names, then run pulumi up again.`,
    );
    expect(created.error).not.toContain("sk_test");
  });

  it("refuses a Worker whose tag was changed outside the program", async () => {
    fake.scripts.set("spectral-alpha", { migration_tag: "v7" });
    const created = await call("create", [inputs]);
    expect(created.status).toBe(1);
    expect(created.error).toContain('migration tag "v7" is not in this program\'s migration history');
    expect(uploads()).toHaveLength(0);
  });

  it("reads drift made outside the program (refresh): bindings, compatibility date and flags; a deleted Worker reads as gone", async () => {
    const created = await call("create", [inputs]);
    const script = fake.scripts.get("spectral-alpha");
    if (!script) throw new Error("no script");
    script.compatibility_date = "2026-01-01";
    script.bindings = [...(script.bindings ?? []), { type: "secret_text", name: "ADDED_BY_WRANGLER" }];
    const read = await call("read", ["spectral-alpha", created.value.outs]);
    expect(read.error).toBe("");
    expect(read.value.id).toBe("spectral-alpha");
    expect(read.value.props.compatibilityDate).toBe("2026-01-01");
    expect(read.value.props.bindings.map((binding: { name: string }) => binding.name)).toEqual([
      "SPECTRAL_APP",
      "SPECTRAL_GENERATION",
      "STRIPE_SECRET_KEY",
      "ADDED_BY_WRANGLER",
    ]);
    // The next up sees the drift and uploads the declared Worker again.
    expect(await provider.diff?.("spectral-alpha", read.value.props, inputs)).toMatchObject({
      changes: true,
    });
    fake.scripts.clear();
    const gone = await call("read", ["spectral-alpha", created.value.outs]);
    expect(gone.value).toMatchObject({ id: "" });
  });

  it("an update of state only (an older provider's) uploads nothing", async () => {
    const created = await call("create", [inputs]);
    const { stateVersion: _version, ...older } = created.value.outs;
    fake.requests.length = 0;
    const updated = await call("update", ["spectral-alpha", older, inputs]);
    expect(updated.error).toBe("");
    expect(uploads()).toEqual([]);
    expect(updated.value.outs).toMatchObject({
      stateVersion: 2,
      namespaceId: created.value.outs.namespaceId,
    });
  });

  it("deletes the Worker and its Durable Object namespace", async () => {
    await call("create", [inputs]);
    const deleted = await call("delete", ["spectral-alpha", inputs]);
    expect(deleted.error).toBe("");
    expect(fake.scripts.has("spectral-alpha")).toBe(false);
    expect(fake.namespaces).toEqual([]);
  });
});

describe("the Cloudflare API stand-in's Workers rules (each a refusal the real API makes)", () => {
  let fake: FakeCloudflare;
  const put = (metadata: unknown, parts: Record<string, string> = { "index.js": "export default {}" }) => {
    const form = new FormData();
    form.set("metadata", new Blob([JSON.stringify(metadata)], { type: "application/json" }));
    for (const [name, code] of Object.entries(parts))
      form.set(name, new Blob([code], { type: "application/javascript+module" }), name);
    return new Cloudflare({ apiToken: FAKE_TOKEN, baseURL: fake.baseUrl, maxRetries: 0 })
      .put(`/accounts/${ACCOUNT}/workers/scripts/rules`, { body: form })
      .then(
        () => "ok",
        (error: { status: number; errors: { code: number; message: string }[] }) =>
          `${error.status} ${error.errors[0].code}: ${error.errors[0].message}`,
      );
  };
  const base = {
    main_module: "index.js",
    compatibility_date: "2026-11-01",
    bindings: [{ type: "durable_object_namespace", name: "APP", class_name: "App" }],
    containers: [{ class_name: "App" }],
  };
  const sdk = () => new Cloudflare({ apiToken: FAKE_TOKEN, baseURL: fake.baseUrl, maxRetries: 0 });

  beforeAll(async () => {
    fake = await startFakeCloudflare();
  });
  afterAll(() => fake.close());

  it("refuses a migration whose old_tag is not the Worker's tag (10079)", async () => {
    const v1Upload = { ...base, migrations: { new_tag: "v1", steps: [{ new_sqlite_classes: ["App"] }] } };
    expect(await put(v1Upload)).toBe("ok");
    expect(await put(v1Upload)).toBe(
      "400 10079: Actor migration tag precondition failed, got tag '' when expected tag is 'v1'",
    );
  });

  it("refuses a binding or container class that no migration created (10061, 10021)", async () => {
    fake.scripts.clear();
    expect(await put(base)).toMatch(/^400 10061: Cannot create binding for class 'App'/);
    const notSqlite = { ...base, migrations: { new_tag: "v1", steps: [{ new_classes: ["App"] }] } };
    expect(await put(notSqlite)).toMatch(/^400 10021: container class App must be a SQLite-backed/);
  });

  it("refuses the SDK's own scripts.update body: metadata flattened into fields (10021, cloudflare-typescript #2799)", async () => {
    const { toFile } = await import("cloudflare");
    const refused = await sdk()
      .workers.scripts.update("rules", {
        account_id: ACCOUNT,
        metadata: { main_module: "index.js" },
        files: [
          await toFile(Buffer.from("export default {}"), "index.js", {
            type: "application/javascript+module",
          }),
        ],
      })
      .catch((error: { errors: { code: number; message: string }[] }) => error.errors[0]);
    expect(refused).toEqual({ code: 10021, message: "could not read content for part metadata" });
  });

  it("refuses migrations in a version upload (10211)", async () => {
    const form = new FormData();
    form.set(
      "metadata",
      new Blob([JSON.stringify({ main_module: "index.js", migrations: { new_tag: "v2", steps: [] } })]),
    );
    form.set("index.js", new Blob(["export default {}"]), "index.js");
    const refused = await sdk()
      .post(`/accounts/${ACCOUNT}/workers/scripts/rules/versions`, { body: form })
      .catch((error: { errors: { code: number }[] }) => error.errors[0].code);
    expect(refused).toBe(10211);
  });

  const validWorker = () =>
    put({
      ...base,
      migrations: {
        old_tag: fake.scripts.get("rules")?.migration_tag,
        new_tag: `t${Date.now()}`,
        steps: [{ new_sqlite_classes: ["App"] }],
      },
    });

  it("keeps the workers.dev subdomain off until it is enabled", async () => {
    fake.scripts.clear();
    expect(await validWorker()).toBe("ok");
    const path = `/accounts/${ACCOUNT}/workers/scripts/rules/subdomain`;
    expect(((await sdk().get(path)) as { result: unknown }).result).toEqual({
      enabled: false,
      previews_enabled: false,
    });
    await sdk().post(path, { body: { enabled: true } });
    expect(((await sdk().get(path)) as { result: unknown }).result).toEqual({
      enabled: true,
      previews_enabled: false,
    });
  });

  it("takes five-field cron schedules only, and one Worker per custom domain hostname", async () => {
    const schedules = `/accounts/${ACCOUNT}/workers/scripts/rules/schedules`;
    const refused = await sdk()
      .put(schedules, { body: [{ cron: "every minute" }] })
      .catch((error: { errors: { code: number }[] }) => error.errors[0].code);
    expect(refused).toBe(10100);
    await sdk().put(schedules, { body: [{ cron: "* * * * *" }] });
    const domains = `/accounts/${ACCOUNT}/workers/domains`;
    const unknownService = await sdk()
      .put(domains, { body: { hostname: "api.example.com", service: "nope" } })
      .catch((error: { errors: { code: number }[] }) => error.errors[0].code);
    expect(unknownService).toBe(100114);
    await sdk().put(domains, { body: { hostname: "api.example.com", service: "rules" } });
    await sdk().put(domains, { body: { hostname: "api.example.com", service: "rules" } });
    const listed: string[] = [];
    for await (const domain of sdk().workers.domains.list({ account_id: ACCOUNT }))
      listed.push(domain.hostname ?? "");
    expect(listed).toEqual(["api.example.com"]);
  });
});
