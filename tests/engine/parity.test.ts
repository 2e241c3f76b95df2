// Real wrangler (4.164, from npm) judges the Cloudflare API and registry stand-ins, and the program (under the
// real Pulumi engine) is compared with it request by request. The stand-ins are the only stand-ins here: the
// Worker's code is bundled by wrangler itself, and the program runs its Worker in workerd.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { settingBindings } from "../../components/container-worker";
import { parseStackConfig } from "../../lib/config";
import { workerSecretBindings } from "../../lib/secrets/bindings";
import { alphaConfig, REPO_ROOT } from "../support/alpha";
import { type FakeCloudflare, type RecordedRequest, startFakeCloudflare } from "../support/fake-cloudflare";
import { settleRollouts } from "../support/fake-cloudflare-containers";
import { type FakeRegistry, LAYER_BYTES, startFakeRegistry } from "../support/fake-registry";
import { skipLoudly } from "../support/skip";
import { certificateAuthority } from "../support/test-ca";
import { WRANGLER_VERSION, WranglerProject, wranglerConfig, wranglerMissing } from "../support/wrangler";
import {
  differences,
  EXPLAINED,
  INTENTS,
  type Recording,
  recordProgram,
  recordWrangler,
  unexplained,
  WranglerStandIns,
} from "./parity";
import { gitShaOf, imageReference } from "./program";
import { EngineScenario } from "./scenario";
import { database, missing } from "./suite";

const wranglerAbsent = wranglerMissing();
const cannotRun =
  missing ??
  (wranglerAbsent &&
    skipLoudly("the wrangler parity suite", wranglerAbsent, "run bash scripts/install-wrangler.sh"));

/** Requests the stand-in had no route for (7003), and those it refused (a 4xx other than "not found"). */
const unrouted = (requests: RecordedRequest[]) => requests.filter((request) => request.code === 7003);
const refused = (requests: RecordedRequest[]) =>
  requests.filter((request) => (request.status ?? 0) >= 400 && request.status !== 404);

describe.skipIf(cannotRun !== undefined)(
  `wrangler ${WRANGLER_VERSION} (real, from npm) deploys the alpha configuration against the Cloudflare API and registry stand-ins`,
  () => {
    const config = parseStackConfig(alphaConfig());
    const account = config["cloudflare.accountId"];
    const worker = config["cloudflare.workerName"];
    const repository = `${account}/${config["cloudflare.containerName"]}`;
    const image = (digit: string) => `registry.cloudflare.com/${repository}@sha256:${digit.repeat(64)}`;
    let fake: FakeCloudflare;
    let registry: FakeRegistry;
    let project: WranglerProject;
    const values = Object.fromEntries(config.secrets.map((entry) => [entry.name, `standin-${entry.name}`]));
    const configure = (digit: string) =>
      project.write(
        wranglerConfig({
          accountId: account,
          workerName: worker,
          containerName: config["cloudflare.containerName"],
          compatibilityDate: config["cloudflare.compatibilityDate"],
          compatibilityFlags: config["cloudflare.compatibilityFlags"],
          image: image(digit),
          instanceType: config["cloudflare.instanceType"],
          maxInstances: config["cloudflare.maxInstances"],
          rolloutStepPercentages: config["cloudflare.rolloutStepPercentages"],
          rolloutGracePeriodSeconds: config["cloudflare.rolloutGracePeriodSeconds"],
          vars: Object.fromEntries(
            [
              ...settingBindings({
                sleepAfter: config["cloudflare.sleepAfter"],
                instances: config["cloudflare.instances"],
                startTimeoutSeconds: config["cloudflare.startTimeoutSeconds"],
                generation: digit,
                gitSha: gitShaOf(image(digit)),
              }),
              ...workerSecretBindings(config.secrets, values).filter(
                (binding) => binding.type === "plain_text",
              ),
            ].map((binding) => [binding.name, binding.text]),
          ),
        }),
      );
    /** Runs wrangler, expecting success; returns its output and the requests it made. */
    const wrangler = async (args: string[], input?: string) => {
      const from = fake.requests.length;
      const run = await project.run(args, input);
      const requests = fake.requests.slice(from);
      expect(run.code, `wrangler ${args.join(" ")}:\n${run.stdout}\n${run.stderr}`).toBe(0);
      expect(unrouted(requests), "requests the stand-in has no route for").toEqual([]);
      expect(refused(requests), "requests the stand-in refused").toEqual([]);
      return { ...run, requests };
    };
    const paths = (requests: RecordedRequest[]) =>
      requests.map(
        (request) => `${request.method} ${request.path.replace(/^\/client\/v4\/accounts\/[^/]+\//, "")}`,
      );

    beforeAll(async () => {
      fake = await startFakeCloudflare();
      const authority = certificateAuthority("spectral wrangler test registry");
      registry = await startFakeRegistry(() => fake.issuedPasswords, authority.issue(["localhost"]));
      fake.registryDomains.add(new URL(registry.url).host);
      for (const digit of "12") fake.registryImages.add(image(digit));
      // Three repositories, one a page: wrangler must follow the catalog's Link header.
      registry.catalogPageSize = 1;
      registry.repositories.set(`${account}/aaa`, ["x"]);
      registry.repositories.set(repository, ["old", "1111111", "2222222"]);
      registry.repositories.set(`${account}/zzz`, ["y"]);
      project = new WranglerProject(
        {
          apiBaseUrl: fake.baseUrl,
          registryHost: new URL(registry.url).host,
          caCertificate: authority.certificate,
        },
        account,
      );
    });
    afterAll(async () => {
      project?.dispose();
      await registry?.close();
      await fake?.close();
    });

    it("wrangler deploy: uploads the Worker, reads the namespace from the upload's version (through two 100146 answers), creates the application, then the triggers", async () => {
      configure("1");
      fake.propagationReads = 2;
      const { requests } = await wrangler(["deploy"]);
      fake.propagationReads = 0;
      const [application] = [...fake.applications.values()];
      expect(application).toMatchObject({
        name: config["cloudflare.containerName"],
        configuration: { image: image("1"), instance_type: config["cloudflare.instanceType"] },
        observability: { logs: { enabled: true } },
        constraints: { tiers: [1, 2] },
      });
      const order = paths(requests);
      expect(order.indexOf(`POST containers/applications`)).toBeLessThan(
        order.indexOf(`PUT workers/scripts/${worker}/schedules`),
      );
      expect(order.filter((path) => path.includes("/versions/"))).toHaveLength(3);
      expect(fake.scripts.get(worker)?.schedules).toEqual([{ cron: "* * * * *" }]);
    });

    it("a second deploy with a new image PATCHes the application and starts a rollout, which completes with time", async () => {
      configure("2");
      const { requests } = await wrangler(["deploy"]);
      expect(paths(requests).filter((path) => /^(PATCH|POST) containers/.test(path))).toEqual([
        `PATCH containers/applications/${[...fake.applications.keys()][0]}`,
        `POST containers/applications/${[...fake.applications.keys()][0]}/rollouts`,
      ]);
      // wrangler does not wait for its rollout; the rollout goes on with time at Cloudflare.
      await new Promise((resolve) => setTimeout(resolve, 3 * fake.rolloutPhaseMs));
      settleRollouts(fake);
      expect([...fake.applications.values()][0].configuration.image).toBe(image("2"));
      expect(fake.rollouts.at(-1)?.status).toBe("completed");
    });

    it("an unchanged deploy uploads a version and changes nothing in the application", async () => {
      const { requests, stdout } = await wrangler(["deploy"]);
      expect(paths(requests).filter((path) => /^(PATCH|POST) containers/.test(path))).toEqual([]);
      expect(stdout).toContain("No changes to be made");
    });

    it("wrangler secret put makes a deployed version with the secret; versions secret put makes one that is not deployed", async () => {
      const script = () => fake.scripts.get(worker);
      const deployments = script()?.deployments?.length ?? 0;
      await wrangler(["secret", "put", "PUT_BY_WRANGLER"], "value-1");
      expect(script()?.bindings?.find((binding) => binding.name === "PUT_BY_WRANGLER")).toMatchObject({
        type: "secret_text",
      });
      expect(script()?.deployments).toHaveLength(deployments + 1);
      const versions = script()?.versions?.length ?? 0;
      await wrangler(["versions", "secret", "put", "VERSIONED_SECRET"], "value-2");
      expect(script()?.versions).toHaveLength(versions + 1);
      expect(script()?.versions?.[0].bindings.map((binding) => binding.name)).toContain("VERSIONED_SECRET");
      expect(script()?.deployments).toHaveLength(deployments + 1);
      // keep_bindings: the next wrangler deploy keeps the secret it did not declare.
      await wrangler(["deploy"]);
      expect(script()?.bindings?.map((binding) => binding.name)).toContain("PUT_BY_WRANGLER");
    });

    it("wrangler containers registries credentials mints a pull credential for the managed registry", async () => {
      const { stdout } = await wrangler([
        "containers",
        "registries",
        "credentials",
        new URL(registry.url).host,
        "--pull",
        "--expiration-minutes",
        "5",
      ]);
      expect(stdout).toContain(fake.issuedPasswords.at(-1));
    });

    it("wrangler containers images list reads every catalog page", async () => {
      const before = registry.requests.length;
      const { stdout } = await wrangler(["containers", "images", "list"]);
      expect(
        registry.requests.slice(before).filter((request) => request.startsWith("GET /v2/_catalog")),
      ).toHaveLength(3);
      for (const tag of ["old", "1111111", "2222222"]) expect(stdout).toContain(tag);
    });

    it("wrangler containers images delete: HEAD, DELETE, then the layer collection frees the image's storage", async () => {
      const before = { bytes: registry.storedBytes(), requests: registry.requests.length };
      await wrangler(["containers", "images", "delete", `${config["cloudflare.containerName"]}:old`]);
      expect(registry.requests.slice(before.requests)).toEqual([
        `HEAD /v2/${repository}/manifests/old`,
        `DELETE /v2/${repository}/manifests/old`,
        "PUT /v2/gc/layers",
      ]);
      expect(before.bytes - registry.storedBytes()).toBe(LAYER_BYTES);
    });

    it("429 with Retry-After and 5xx, answered as Cloudflare does: wrangler waits and retries where it retries (the Worker read), and elsewhere stops with Cloudflare's code and the wait asked for", async () => {
      configure("2");
      const rateLimited = (path: RegExp, status: number) => ({
        method: "GET",
        pathPattern: path,
        status,
        code: status === 429 ? 971 : 10013,
        message: status === 429 ? "Please wait and consider throttling your request speed" : "bad gateway",
        ...(status === 429 ? { retryAfter: 1 } : {}),
      });
      for (const status of [429, 502]) {
        fake.failNext = rateLimited(/\/workers\/workers\/[^/]+$/, status);
        const from = fake.requests.length;
        const run = await project.run(["deploy"]);
        expect(run.code, `${status}: ${run.stdout}\n${run.stderr}`).toBe(0);
        const reads = fake.requests
          .slice(from)
          .filter((request) => /\/workers\/workers\//.test(request.path));
        expect(
          reads.map((request) => request.status),
          String(status),
        ).toEqual([status, 200]);
      }
      fake.failNext = rateLimited(/\/workers\/services\//, 429);
      const stopped = await project.run(["deploy"]);
      expect(stopped.code).not.toBe(0);
      expect(stopped.stdout + stopped.stderr).toContain("[code: 971]");
      expect(stopped.stdout + stopped.stderr).toContain(
        '"Retry-After" header indicating you should wait 1 second(s)',
      );
    });
  },
);

describe.skipIf(cannotRun !== undefined)(
  "parity: the program (real Pulumi engine, Worker in workerd) and wrangler (real) carry out the same intents against the Cloudflare API and registry stand-ins",
  () => {
    let scenario: EngineScenario;
    let standIns: WranglerStandIns;
    let program: Recording;
    let theirs: Recording;
    let freed: { program: boolean; wrangler: boolean };

    beforeAll(async () => {
      scenario = await EngineScenario.start(database);
      standIns = await WranglerStandIns.start();
      const recorded = await recordProgram(scenario);
      const wrangler = await recordWrangler(standIns, recorded);
      program = recorded.recording;
      theirs = wrangler.recording;
      freed = { program: recorded.layersFreed, wrangler: wrangler.layersFreed };
    });
    afterAll(async () => {
      await standIns?.close();
      await scenario?.close();
    });

    it("every request wrangler makes for the five intents is routed and none is refused", () => {
      const all = INTENTS.flatMap((intent) => theirs.api[intent]);
      expect(all.length).toBeGreaterThan(20);
      expect(unrouted(all)).toEqual([]);
      expect(refused(all)).toEqual([]);
    });

    it("each difference from wrangler is explained, and each explanation is still needed", () => {
      const found = differences(program, theirs);
      const { differences: open, stale } = unexplained(found);
      expect(open, "differences nothing in EXPLAINED covers").toEqual([]);
      expect(
        stale.map((each) => each.why),
        "explanations that no difference needs",
      ).toEqual([]);
    });

    it("both clients create the application with the same body, apart from what EXPLAINED lists", () => {
      const created = (recording: Recording) =>
        recording.api["first deploy"].find(
          (request) => request.method === "POST" && /applications$/.test(request.path),
        )?.body as Record<string, unknown>;
      const ours = created(program);
      const wranglers = created(theirs);
      for (const key of ["scheduling_policy", "instances", "observability", "constraints", "configuration"])
        expect(ours[key], key).toEqual(wranglers[key]);
    });

    it("pruning frees layers for both: a tag deleted and the layers collected", () => {
      expect(freed).toEqual({ program: true, wrangler: true });
    });

    it("docs/cloudflare.md lists every explanation by name", () => {
      const docs = readFileSync(join(REPO_ROOT, "docs/cloudflare.md"), "utf8");
      expect(EXPLAINED.filter((each) => !docs.includes(`**${each.name}**`)).map((each) => each.name)).toEqual(
        [],
      );
    });
  },
);

describe.skipIf(missing !== undefined)(
  "code update strategy: an active Durable Object takes new code at once only when the upload says so (real engine, Worker in workerd, Cloudflare API stand-in)",
  () => {
    let scenario: EngineScenario;
    // A stack of its own: the engine suites share one PostgreSQL server, and rows count per stack.
    const STACK = "code-update";
    beforeAll(async () => {
      scenario = await EngineScenario.start(database);
    });
    afterAll(async () => scenario?.close());

    it("with Cloudflare's deferral the verification sees the old generation and fails the up; with the program's `immediate` it sees the new one", async () => {
      // The scenario's verification timeout, except where the up must fail: there 5 s, well inside the deferral.
      const base = scenario.inputs();
      expect((await (await scenario.stack(base, STACK)).up()).summary.result).toBe("succeeded");
      const image = imageReference("2");
      const deferred = {
        ...base,
        image,
        gitSha: gitShaOf(image),
        codeUpdateStrategy: { mode: "deferred" as const, max_delay: 60 },
        verifyTimeoutSeconds: 5,
      };
      await expect((await scenario.stack(deferred, STACK)).up()).rejects.toThrow(
        /showed 1 instance\(s\) not serving generation \d+ of commit \w+ \(instance-0: generation \d+ of commit \w+\)/,
      );
      const immediate = {
        ...deferred,
        codeUpdateStrategy: undefined,
        verifyTimeoutSeconds: base.verifyTimeoutSeconds,
      };
      const result = await (await scenario.stack(immediate, STACK)).up();
      expect(result.outputs.servingGeneration.value).toBe(result.outputs.generation.value);
      expect(scenario.uploads().at(-1)?.metadata.code_update_strategy).toEqual({ mode: "immediate" });
    });
  },
);
