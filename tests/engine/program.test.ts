// The project's dynamic providers under the real Pulumi engine (CLI v3.274.1, inline Automation API program),
// against real PostgreSQL and the Cloudflare API stand-in (tests/support/fake-cloudflare.ts). The runs after
// the first, each in a fresh process under the production loader, are lifecycle.test.ts's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONTAINER_CLASS } from "../../components/container-worker";
import { FAKE_TOKEN, lostAnswer } from "../support/fake-cloudflare";
import { DEPLOYER_PASSWORD } from "../support/postgres";
import { ACCOUNT, type EngineInputs, gitShaOf, imageReference, REPOSITORY } from "./program";
import { EngineScenario, SECRET_VALUES } from "./scenario";
import { database, missing } from "./suite";

describe.skipIf(missing !== undefined)(
  "real Pulumi engine: generation, Worker upload, container application, deploy verification and image retention (real PostgreSQL, Cloudflare API and registry stand-ins, the Worker in workerd with a container double)",
  () => {
    let scenario: EngineScenario;
    let base: EngineInputs;
    const up = async (inputs: EngineInputs) => (await scenario.stack(inputs)).up();

    beforeAll(async () => {
      scenario = await EngineScenario.start(database);
      base = scenario.inputs();
    });
    afterAll(async () => scenario?.close());

    it("preview writes nothing: no database row, no Cloudflare write", async () => {
      const preview = await (await scenario.stack(base)).preview();
      expect(preview.changeSummary).toMatchObject({ create: 6 });
      expect(await scenario.generations()).toBe(0);
      expect(scenario.writes()).toBe(0);
    });

    it("up creates every resource: one generation row, one application, and verifies the Worker serves it", async () => {
      const result = await up(base);
      expect(result.summary.result).toBe("succeeded");
      expect(result.summary.resourceChanges).toMatchObject({ create: 6 });
      expect(result.outputs.servingGeneration.value).toBe(result.outputs.generation.value);
      expect(await scenario.generations()).toBe(1);
      expect([...scenario.fake.applications.keys()]).toEqual([result.outputs.applicationId.value]);
      // The Worker went up through the script upload with its migration, and its namespace is the upload's.
      expect(result.outputs.migrationTag.value).toBe("v1");
      const [namespace] = scenario.fake.namespaces;
      expect(namespace).toMatchObject({ class: CONTAINER_CLASS, use_sqlite: true });
      expect(result.outputs.namespaceId.value).toBe(namespace.id);
      expect(scenario.uploads().map((upload) => upload.metadata.migrations)).toEqual([
        { new_tag: "v1", steps: [{ new_sqlite_classes: [CONTAINER_CLASS] }] },
      ]);
    });

    it("a new image replaces the generation, uploads the Worker once without migrations, rolls the application out once and waits for it, then verifies", async () => {
      const before = { rows: await scenario.generations(), rollouts: scenario.fake.rollouts.length };
      const changed = { ...base, image: imageReference("2"), gitSha: gitShaOf(imageReference("2")) };
      const uploads = scenario.uploads().length;
      const result = await up(changed);
      expect(result.summary.resourceChanges).toEqual({ same: 1, replace: 1, update: 4 });
      expect(scenario.fake.rollouts.at(-1)?.status).toBe("completed");
      // Two deploys seen, two kept (keep: 2): every other tag of the application's image is pruned.
      expect(result.outputs.keptImages.value).toEqual(["2222222", "1111111"]);
      expect(scenario.registry.repositories.get(`${ACCOUNT}/${REPOSITORY}`)).toEqual(["1111111", "2222222"]);
      expect(result.outputs.servingGeneration.value).toBe(result.outputs.generation.value);
      expect(
        scenario
          .uploads()
          .slice(uploads)
          .map((upload) => upload.metadata.migrations),
      ).toEqual([undefined]);
      expect(await scenario.generations()).toBe(before.rows + 1);
      expect(scenario.fake.rollouts).toHaveLength(before.rollouts + 1);
      expect(scenario.fake.rollouts.at(-1)?.body).toMatchObject({
        target_configuration: { image: imageReference("2") },
      });
      base = changed;
    });

    it("a rotated secret replaces the generation (new fingerprint) and uploads the Worker, with no rollout: the Durable Object restarts the container", async () => {
      const before = { rows: await scenario.generations(), rollouts: scenario.fake.rollouts.length };
      const rotated = { ...base, secrets: { ...SECRET_VALUES, STRIPE_SECRET_KEY: "sk_engine_rotated_4410" } };
      // The engine masks secrets in its diff, so the rotation shows through the binding's keyed digest.
      const preview = await (await scenario.stack(rotated)).preview({ diff: true });
      const changedLines = preview.stdout.split("\n").filter((line) => line.trimStart().startsWith("~"));
      expect(changedLines.join("\n")).toContain("digest");
      const stripe = preview.stdout.slice(preview.stdout.indexOf('name  : "STRIPE_SECRET_KEY"') - 200);
      expect(stripe).toMatch(/~ digest/);
      const api = preview.stdout.slice(
        preview.stdout.indexOf('"API_DATABASE_URL"') - 120,
        preview.stdout.indexOf('"API_DATABASE_URL"'),
      );
      expect(api).not.toContain("~ digest");
      expect(preview.stdout).not.toContain("sk_engine");
      const result = await up(rotated);
      expect(result.summary.resourceChanges).toEqual({ same: 3, replace: 1, update: 2 });
      // The preview showed what the up did, not more (the application is not replaced).
      expect(preview.changeSummary).toEqual(result.summary.resourceChanges);
      expect(await scenario.generations()).toBe(before.rows + 1);
      expect(scenario.fake.rollouts).toHaveLength(before.rollouts);
      expect(result.outputs.servingGeneration.value).toBe(result.outputs.generation.value);
      // The new generation's container (in whichever slot it started) got the rotated value.
      const started = ["instance-0/blue", "instance-0/green"]
        .flatMap((slot) => scenario.double.container(slot).starts)
        .filter((env) => env.SPECTRAL_GENERATION === String(result.outputs.generation.value));
      expect(started.map((env) => env.STRIPE_SECRET_KEY)).toEqual(["sk_engine_rotated_4410"]);
      base = rotated;
    });

    it("a new generation whose container exits at start fails the up, naming the generation, the instance and the reason; the old generation keeps serving; the next up starts clean", async () => {
      const slots = ["instance-0/blue", "instance-0/green"].map((name) => scenario.double.container(name));
      const idle = slots.find((slot) => !slot.running);
      if (!idle) throw new Error("both slots run: the previous cutover did not drain");
      const servedBefore = (await (await fetch(`${scenario.url}/health`)).json()) as { generation: string };
      idle.exitOnStart = true;
      const crashing = { ...base, secrets: { ...base.secrets, STRIPE_SECRET_KEY: "sk_engine_crash_5521" } };
      const failure = await up(crashing).then(
        () => "succeeded",
        (error: Error) => error.message,
      );
      expect(failure).toMatch(
        new RegExp(
          `DeployVerification: generation (\\d+) did not start on instance-0: the container exited during its start[^.]*\\. Generation ${servedBefore.generation} still serves there: no request went to the new one`,
        ),
      );
      const served = (await (await fetch(`${scenario.url}/health`)).json()) as { generation: string };
      expect(served.generation).toBe(servedBefore.generation);
      idle.exitOnStart = false;
      const fixed = {
        ...crashing,
        secrets: { ...crashing.secrets, STRIPE_SECRET_KEY: "sk_engine_fixed_5522" },
      };
      const result = await up(fixed);
      expect(result.summary.result).toBe("succeeded");
      expect(result.outputs.servingGeneration.value).toBe(result.outputs.generation.value);
      base = fixed;
    });

    it("new rollout steps update the application in place: no new generation, no rollout, no Cloudflare write", async () => {
      const before = { rows: await scenario.generations(), writes: scenario.writes() };
      const changed = { ...base, rolloutStepPercentages: [25, 100] };
      const result = await up(changed);
      expect(result.summary.resourceChanges).toEqual({ same: 5, update: 1 });
      expect(await scenario.generations()).toBe(before.rows);
      expect(scenario.writes()).toBe(before.writes);
      base = changed;
    });

    it("a Cloudflare 500 on the application create fails the up (no blind retry); the next up converges with no duplicate generation and no orphan", async () => {
      await (await scenario.stack(base)).destroy();
      expect(scenario.fake.applications.size).toBe(0);
      const before = await scenario.generations();
      scenario.fake.failNext = {
        method: "POST",
        pathPattern: /containers\/applications$/,
        status: 500,
        code: 10002,
        message: "internal error",
      };
      await expect(up(base)).rejects.toThrow(
        /ContainerApplication spectral-engine-app: creating the application failed: the Cloudflare API at 127\.0\.0\.1:\d+ answered 500 \(code 10002: internal error\); Cloudflare may have created it; the next pulumi up finds it by its namespace and adopts it\. Check this machine's network/,
      );
      expect(await scenario.generations()).toBe(before + 1);
      const retried = await up(base);
      expect(retried.summary.resourceChanges).toEqual({ same: 3, create: 3 });
      expect(await scenario.generations()).toBe(before + 1);
      expect(scenario.fake.applications.size).toBe(1);
    });

    it("a create whose answer was lost is found, not repeated: one application", async () => {
      await (await scenario.stack(base)).destroy();
      scenario.fake.failNext = lostAnswer("POST", /containers\/applications$/);
      const result = await up(base);
      expect(result.summary.result).toBe("succeeded");
      expect(scenario.fake.applications.size).toBe(1);
    });

    it("a rollout that Cloudflare reverts fails the up with its reason and the instances' health", async () => {
      scenario.fake.unpullableImages.add(imageReference("3"));
      const broken = { ...base, image: imageReference("3"), gitSha: gitShaOf(imageReference("3")) };
      await expect(up(broken)).rejects.toThrow(
        /ContainerApplication spectral-engine-app: the rollout of .*sha256:3{64} was reverted: failed to pull image .* instances' health: \{"instances":\{"active":1,"healthy":0,"failed":1/,
      );
      // The next up with the working image converges.
      const fixed = await up(base);
      expect(fixed.summary.result).toBe("succeeded");
    });

    it("pulumi stack export holds no secret value in plaintext", async () => {
      // The CLI itself: the Automation API's exportStack asks for --show-secrets.
      const { workDir } = (await scenario.stack(base)).workspace;
      const run = await scenario.sandbox.cli(workDir, ["stack", "export", "--stack", "engine"]);
      expect(run.code, run.stderr).toBe(0);
      for (const value of [
        DEPLOYER_PASSWORD,
        scenario.database.deployerUrl,
        FAKE_TOKEN,
        ...Object.values(base.secrets),
        ...Object.values(SECRET_VALUES),
      ]) {
        expect(run.stdout).not.toContain(value);
      }
      expect(run.stdout).toContain("ciphertext");
    });

    it("destroy removes the application and the Worker, and keeps every core.deployments row and the registry's images", async () => {
      const before = {
        rows: await scenario.generations(),
        images: [...(scenario.registry.repositories.get(`${ACCOUNT}/${REPOSITORY}`) ?? [])],
      };
      expect(before.images.length).toBeGreaterThan(0);
      const result = await (await scenario.stack(base)).destroy();
      expect(result.summary.resourceChanges).toEqual({ delete: 6 });
      expect(scenario.fake.applications.size).toBe(0);
      expect(scenario.fake.scripts.size).toBe(0);
      expect(scenario.registry.repositories.get(`${ACCOUNT}/${REPOSITORY}`)).toEqual(before.images);
      expect(await scenario.generations()).toBe(before.rows);
    });
  },
);

if (missing) console.warn(`\nSKIPPED: real Pulumi engine suite: ${missing}\n`);
