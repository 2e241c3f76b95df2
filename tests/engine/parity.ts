/**
 * The parity check: the program (under the real engine) and real wrangler, each against a fresh Cloudflare
 * API stand-in and registry stand-in, carry out the same five intents. Their requests are compared field by
 * field: the upload metadata, the application's create, PATCH and rollout bodies, the registry calls, and
 * the order of the writes. Every difference is either gone or explained in EXPLAINED, with its reason and
 * source; docs/cloudflare.md lists the same explanations. Used by parity.test.ts and `pnpm bench:parity`.
 */
import { settingBindings } from "../../components/container-worker";
import { workerSecretBindings } from "../../lib/secrets/bindings";
import { type FakeCloudflare, type RecordedRequest, startFakeCloudflare } from "../support/fake-cloudflare";
import { type FakeRegistry, startFakeRegistry } from "../support/fake-registry";
import { certificateAuthority } from "../support/test-ca";
import { WranglerProject, type WranglerRun, wranglerConfig } from "../support/wrangler";
import {
  ACCOUNT,
  type EngineInputs,
  gitShaOf,
  imageReference,
  manifestOf,
  REPOSITORY,
  WORKER,
} from "./program";
import { type EngineScenario, SECRET_VALUES } from "./scenario";

export const INTENTS = ["first deploy", "new image", "secret rotation", "no change", "prune"] as const;
export type Intent = (typeof INTENTS)[number];

/** One client's requests for each intent: the Cloudflare API's and the registry's. */
export interface Recording {
  api: Record<Intent, RecordedRequest[]>;
  registry: Record<Intent, string[]>;
}

/** A difference that is meant, with why and where that is documented. */
export interface Explanation {
  /** How docs/cloudflare.md names it. */
  name: string;
  /** Matches the differences it explains (see differences()). */
  pattern: RegExp;
  why: string;
  source: string;
}

/**
 * Every difference between the program's requests and wrangler's that stays, and why. docs/cloudflare.md
 * ("What the program asks differently from wrangler") lists each by name.
 */
export const EXPLAINED: Explanation[] = [
  {
    name: "wrangler's pre-deploy reads",
    pattern:
      /^(first deploy|new image|no change): wrangler only: GET workers\/(services\/\{worker\}|scripts\/\{worker\}\/(secrets|deployments|settings)|workers\/\{worker\})$/,
    why: "wrangler's pre-deploy reads: whether the Worker exists and was last deployed from the dashboard, which secrets a var would shadow, and the subdomain setting. The program keeps that in its state and reads only what it changes.",
    source: "wrangler 4.164 deploy-helpers validate-worker-props.ts, check-remote-secrets-override.ts",
  },
  {
    name: "the migration tag read",
    pattern: /^(first deploy|new image|no change): program only: GET workers\/scripts$/,
    why: "Both send only the migrations after the deployed tag; the program reads that tag from the scripts list, wrangler from the service's script in its first call.",
    source: "platform facts, 'The Worker upload' (old_tag precondition, 10079)",
  },
  {
    name: "the subdomain and the cron are Pulumi resources",
    pattern:
      /^(first deploy|new image|no change): wrangler only: POST workers\/scripts\/\{worker\}\/subdomain|PUT workers\/scripts\/\{worker\}\/schedules$/,
    why: "The workers.dev subdomain and the wake cron are @pulumi/cloudflare resources (WorkersScriptSubdomain, WakeSchedule's WorkersCronTrigger), written only when they change; their plugins cannot run here, so the mock-runtime graph test proves their order (the cron after the application).",
    source: "tests/cloudflare-graph.test.ts; docs/testing.md, 'Left to the mock runtime'",
  },
  {
    name: "wrangler's second subdomain read",
    pattern: /^(first deploy|new image|no change): wrangler only: GET workers\/subdomain$/,
    why: "wrangler reads the account subdomain a second time after the upload, to print the URL; the program reads it once.",
    source: "wrangler 4.164 triggers deploy (getWorkersDevSubdomain)",
  },
  {
    name: "an unchanged up writes nothing",
    pattern:
      /^(no change): wrangler only: (PUT workers\/scripts\/\{worker\}|GET workers\/scripts\/\{worker\}\/versions\/\{version\}|GET containers\/applications)$/,
    why: "wrangler uploads a new version on every deploy; the program uploads only when an input changed, and an unchanged up writes nothing.",
    source: "components/worker-script-provider.ts (diff); pnpm bench:noop",
  },
  {
    name: "no whole-application PATCH",
    pattern: /^new image: wrangler only: PATCH containers\/applications\/\{application\}$/,
    why: "wrangler PATCHes the whole application (configuration included) before every rollout; the program PATCHes only settings that differ and changes the configuration through the rollout alone, whose target_configuration carries it.",
    source:
      "wrangler 4.164 containers/deploy.ts (apply, modify); containers-shared ModifyApplicationRequestBody",
  },
  {
    name: "pruning inside the up",
    pattern:
      /^((first deploy|new image): program only|prune: wrangler only): POST containers\/registries\/\{registry\}\/credentials$/,
    why: "The program prunes old images in the same up, after the verification, with credentials it mints there; with wrangler that is a separate `wrangler containers images delete` (the prune intent).",
    source: "components/image-retention-provider.ts",
  },
  {
    name: "the application by id",
    pattern: /^new image: wrangler only: GET containers\/applications$/,
    why: "wrangler lists the applications to find its own by name (names are not unique keys); the program reads its application by the id in its state, and lists only to adopt one on create.",
    source: "wrangler 4.164 containers/deploy.ts (apply); platform facts, 'The container application'",
  },
  {
    name: "a rotation is one upload",
    pattern:
      /^secret rotation: (wrangler only: PUT workers\/scripts\/\{worker\}\/secrets|program only: (GET workers\/scripts|PUT workers\/scripts\/\{worker\}|GET workers\/scripts\/\{worker\}\/versions\/\{version\}|GET workers\/subdomain|GET containers\/applications\/\{application\}))$/,
    why: "A rotation is a new generation: the program uploads the Worker with every secret and the new SPECTRAL_GENERATION in one version, so the code, the generation and the secrets change together; `wrangler secret put` makes a version per secret.",
    source: "docs/secrets.md; docs: workers/configuration/secrets",
  },
  {
    name: "watching the rollout",
    pattern:
      /^(first deploy|new image|no change|secret rotation): program only: GET containers\/applications\/\{application\}(\/rollouts(\/\{rollout\})?)?$/,
    why: "The program reads the application, looks for an active rollout to resume, and watches its own rollout to the end; wrangler starts one and does not wait.",
    source: "components/container-application-provider.ts (rollOut, waitForRollout)",
  },
  {
    name: "secrets put after the deploy",
    pattern: /^first deploy: wrangler only: PUT workers\/scripts\/\{worker\}\/secrets$/,
    why: "wrangler puts each secret after the deploy, one version each; the program's first upload carries them.",
    source: "docs: workers/configuration/secrets",
  },
  {
    name: "no keep_bindings",
    pattern: /^upload\.keep_bindings: wrangler only$/,
    why: "wrangler keeps secrets put outside the deploy; the program declares every binding, so a `wrangler secret put` is removed by the next up (the secrets come from 1Password, not from hand edits).",
    source: "platform facts, 'The upload and what wrangler reads back'; docs/secrets.md",
  },
  {
    name: "secret values travel in the upload",
    pattern: /^upload\.bindings: secret_text only in the program's$/,
    why: "The program's upload carries the container's secrets; wrangler's carries none and puts them separately.",
    source: "docs: workers/configuration/multipart-upload-metadata",
  },
  {
    name: "no container name in the upload",
    pattern: /^upload\.containers differs$/,
    why: "wrangler also names the container (`name`) in the upload; the program binds its application to the namespace by id, so the name adds nothing.",
    source: "wrangler 4.164 create-worker-upload-form (containers: name, class_name)",
  },
  {
    name: "rollout wording",
    pattern: /^rollout\.(description|steps|step_percentage) (differs|program only|wrangler only)$/,
    why: "Rollout wording and step form: the program names the image in the description and sends explicit `steps`; wrangler sends 'Progressive update' and the same percentages.",
    source: "containers-shared CreateApplicationRolloutRequest",
  },
  {
    name: "the catalog read",
    pattern: /^prune: program only: GET \/v2\/_catalog\?tags=true$/,
    why: "The program finds the tags to delete from the catalog (paged by Link); wrangler is told which tag.",
    source: "components/image-retention-provider.ts",
  },
];

/** A request path as a template: account and names removed, ids named. */
export function template(method: string, path: string): string {
  const relative = path
    .replace(/^\/client\/v4\/accounts\/[^/]+\//, "")
    .replace(`/${WORKER}`, "/{worker}")
    .replace(/containers\/applications\/[^/]+/, "containers/applications/{application}")
    .replace(/rollouts\/[^/]+/, "rollouts/{rollout}")
    .replace(/versions\/[0-9a-f-]{36}/, "versions/{version}")
    .replace(/registries\/[^/]+\/credentials/, "registries/{registry}/credentials")
    .replace(/^workers\/(services|workers)\/[^/]+/, "workers/$1/{worker}");
  return `${method} ${relative}`;
}

const registryTemplate = (request: string) =>
  request
    .replace(/manifests\/[^/?]+/, "manifests/{tag}")
    .replace(`/${ACCOUNT}/${REPOSITORY}`, "/{repository}");

/** A value as text, keys sorted and one run's object ids (namespace ids) named, so equal requests compare equal. */
function normalized(value: unknown): string {
  const sorted = (each: unknown): unknown =>
    each && typeof each === "object" && !Array.isArray(each)
      ? Object.fromEntries(
          Object.keys(each)
            .sort()
            .map((key) => [key, sorted((each as Record<string, unknown>)[key])]),
        )
      : Array.isArray(each)
        ? each.map(sorted)
        : each;
  return JSON.stringify(sorted(value)).replace(/ns-[0-9a-f]+/g, "{namespace}");
}

/** The differences between two bodies, key by key: `<what>.<key>: program only | wrangler only | differs`. */
function bodyDifferences(what: string, program: unknown, wrangler: unknown): string[] {
  const ours = (program ?? {}) as Record<string, unknown>;
  const theirs = (wrangler ?? {}) as Record<string, unknown>;
  const out: string[] = [];
  for (const key of new Set([...Object.keys(ours), ...Object.keys(theirs)])) {
    if (!(key in theirs)) out.push(`${what}.${key}: program only`);
    else if (!(key in ours)) out.push(`${what}.${key}: wrangler only`);
    else if (key === "bindings") out.push(...bindingDifferences(ours[key], theirs[key]));
    else if (normalized(ours[key]) !== normalized(theirs[key])) out.push(`${what}.${key} differs`);
  }
  return out;
}

/** Bindings by their whole content: only secret_text ones in the program's upload is the one meant difference. */
function bindingDifferences(program: unknown, wrangler: unknown): string[] {
  const [ours, theirs] = [program as { type: string }[], wrangler as { type: string }[]];
  const missingFrom = (list: unknown[]) => (binding: unknown) =>
    !list.some((other) => normalized(other) === normalized(binding));
  const onlyOurs = ours.filter(missingFrom(theirs));
  const out: string[] = [];
  if (onlyOurs.some((binding) => binding.type === "secret_text"))
    out.push("upload.bindings: secret_text only in the program's");
  if (onlyOurs.some((binding) => binding.type !== "secret_text") || theirs.some(missingFrom(ours)))
    out.push("upload.bindings differs");
  return out;
}

/** The calls `other` also makes, each at its first, in the order `calls` makes them. */
const sharedInOrder = (calls: string[], other: string[]) => [
  ...new Set(calls.filter((call) => other.includes(call))),
];
const writes = (calls: string[]) => calls.filter((call) => !call.startsWith("GET "));

const bodyOf = (requests: RecordedRequest[], method: string, pattern: RegExp) =>
  requests.find((request) => request.method === method && pattern.test(request.path))?.body;
const metadataOf = (requests: RecordedRequest[]) =>
  (bodyOf(requests, "PUT", /\/workers\/scripts\/[^/]+$/) as { metadata?: unknown } | undefined)?.metadata;

/** Adds each call only one client makes, as `<intent>: program only: <call>` (or wrangler only). */
function compareCalls(intent: string, ours: string[], theirs: string[], found: Set<string>): void {
  for (const call of new Set(ours)) if (!theirs.includes(call)) found.add(`${intent}: program only: ${call}`);
  for (const call of new Set(theirs))
    if (!ours.includes(call)) found.add(`${intent}: wrangler only: ${call}`);
}

/** Every difference between the two recordings, each once. */
export function differences(program: Recording, wrangler: Recording): string[] {
  const found = new Set<string>();
  for (const intent of INTENTS) {
    const ours = program.api[intent].map((request) => template(request.method, request.path));
    const theirs = wrangler.api[intent].map((request) => template(request.method, request.path));
    compareCalls(intent, ours, theirs, found);
    if (normalized(sharedInOrder(writes(ours), theirs)) !== normalized(sharedInOrder(writes(theirs), ours)))
      found.add(`${intent}: the writes both make come in another order`);
  }
  for (const intent of ["first deploy", "new image"] as const) {
    const [ours, theirs] = [program.api[intent], wrangler.api[intent]];
    for (const difference of bodyDifferences("upload", metadataOf(ours), metadataOf(theirs)))
      found.add(difference);
  }
  const created = (recording: Recording) => bodyOf(recording.api["first deploy"], "POST", /applications$/);
  for (const difference of bodyDifferences("application create", created(program), created(wrangler)))
    found.add(difference);
  const rollout = (recording: Recording) => bodyOf(recording.api["new image"], "POST", /\/rollouts$/);
  for (const difference of bodyDifferences("rollout", rollout(program), rollout(wrangler)))
    found.add(difference);
  // The program prunes within the new image's up; wrangler, with its own command.
  const ours = program.registry["new image"].map(registryTemplate);
  const theirs = wrangler.registry.prune.map(registryTemplate);
  compareCalls("prune", ours, theirs, found);
  if (normalized(sharedInOrder(ours, theirs)) !== normalized(sharedInOrder(theirs, ours)))
    found.add("prune: the registry calls both make come in another order");
  return [...found].sort();
}

/** The differences no explanation covers, and the explanations nothing needs any more. */
export function unexplained(found: string[]): { differences: string[]; stale: Explanation[] } {
  return {
    differences: found.filter((difference) => !EXPLAINED.some((each) => each.pattern.test(difference))),
    stale: EXPLAINED.filter((each) => !found.some((difference) => each.pattern.test(difference))),
  };
}

const emptyRecording = (): Recording => ({
  api: Object.fromEntries(INTENTS.map((intent) => [intent, []])) as unknown as Recording["api"],
  registry: Object.fromEntries(INTENTS.map((intent) => [intent, []])) as unknown as Recording["registry"],
});

/** Records what `act` sends to each stand-in, as `intent`. */
async function record(
  recording: Recording,
  intent: Intent,
  fake: FakeCloudflare,
  registry: FakeRegistry,
  act: () => Promise<void>,
): Promise<void> {
  const [api, registryCalls] = [fake.requests.length, registry.requests.length];
  await act();
  recording.api[intent].push(...fake.requests.slice(api));
  recording.registry[intent].push(...registry.requests.slice(registryCalls));
}

/** The program's five intents under the real engine; the generation of each up, for wrangler's vars. */
export async function recordProgram(scenario: EngineScenario): Promise<{
  recording: Recording;
  generations: number[];
  prunedTags: string[];
  layersFreed: boolean;
}> {
  const recording = emptyRecording();
  const generations: number[] = [];
  const up = async (intent: Intent, inputs: EngineInputs) =>
    record(recording, intent, scenario.fake, scenario.registry, async () => {
      // A stack of its own: the engine suites share one PostgreSQL server, and rows count per stack.
      const result = await (await scenario.stack(inputs, "parity")).up();
      if (result.summary.result !== "succeeded") throw new Error(`the program's ${intent} failed`);
      generations.push(Number(result.outputs.generation.value));
    });
  const base = scenario.inputs();
  const image = imageReference("2");
  const newImage = { ...base, image, gitSha: gitShaOf(image) };
  await up("first deploy", base);
  const bytesBefore = scenario.registry.storedBytes();
  await up("new image", newImage);
  const layersFreed = scenario.registry.storedBytes() < bytesBefore && scenario.registry.collections > 0;
  const rotated = { ...newImage, secrets: { ...SECRET_VALUES, STRIPE_SECRET_KEY: "sk_engine_rotated_4410" } };
  await up("secret rotation", rotated);
  await up("no change", rotated);
  return {
    recording,
    generations,
    prunedTags: scenario.registry.deleted.map((each) => each.split(":").pop() ?? ""),
    layersFreed,
  };
}

/** The Cloudflare and registry stand-ins wrangler deploys against, the registry over TLS as the real one. */
export class WranglerStandIns {
  private constructor(
    readonly fake: FakeCloudflare,
    readonly registry: FakeRegistry,
    readonly project: WranglerProject,
  ) {}

  static async start(): Promise<WranglerStandIns> {
    const fake = await startFakeCloudflare();
    const authority = certificateAuthority("spectral parity test registry");
    const registry = await startFakeRegistry(() => fake.issuedPasswords, authority.issue(["localhost"]));
    const registryHost = new URL(registry.url).host;
    fake.registryDomains.add(registryHost);
    for (const digit of "123") fake.registryImages.add(imageReference(digit));
    registry.repositories.set(`${ACCOUNT}/${REPOSITORY}`, [
      "0000000",
      ...["1", "2", "3"].map((d) => d.repeat(7)),
    ]);
    const project = new WranglerProject(
      { apiBaseUrl: fake.baseUrl, registryHost, caCertificate: authority.certificate },
      ACCOUNT,
    );
    return new WranglerStandIns(fake, registry, project);
  }

  /** wrangler.json for the engine program's Worker with this image and generation. */
  configure(digit: string, generation: number): void {
    const image = imageReference(digit);
    const manifest = manifestOf(Object.keys(SECRET_VALUES));
    const vars = Object.fromEntries(
      [
        ...settingBindings({
          sleepAfter: "10m",
          instances: 1,
          startTimeoutSeconds: 90,
          generation: String(generation),
          gitSha: gitShaOf(image),
        }),
        ...workerSecretBindings(manifest, SECRET_VALUES).filter((binding) => binding.type === "plain_text"),
      ].map((binding) => [binding.name, binding.text]),
    );
    this.project.write(
      wranglerConfig({
        accountId: ACCOUNT,
        workerName: WORKER,
        containerName: "spectral-engine-app",
        compatibilityDate: "2026-11-01",
        compatibilityFlags: [],
        image,
        instanceType: "standard-1",
        maxInstances: 2,
        rolloutStepPercentages: [10, 100],
        rolloutGracePeriodSeconds: 30,
        vars,
      }),
    );
  }

  /** Runs wrangler; a failure throws with its output, so a refused request names itself. */
  async wrangler(args: string[], input?: string): Promise<WranglerRun> {
    const run = await this.project.run(args, input);
    if (run.code !== 0)
      throw new Error(
        `wrangler ${args.join(" ")} exited ${run.code}:\n${run.stdout.slice(-2000)}\n${run.stderr.slice(-2000)}`,
      );
    return run;
  }

  async close(): Promise<void> {
    this.project.dispose();
    await this.registry.close();
    await this.fake.close();
  }
}

/** Wrangler's five intents, with the program's generations and the tags the program pruned. */
export async function recordWrangler(
  standIns: WranglerStandIns,
  program: { generations: number[]; prunedTags: string[] },
): Promise<{ recording: Recording; layersFreed: boolean }> {
  const recording = emptyRecording();
  const as = (intent: Intent, act: () => Promise<unknown>) =>
    record(recording, intent, standIns.fake, standIns.registry, async () => {
      await act();
    });
  const [first, second] = program.generations;
  await as("first deploy", async () => {
    standIns.configure("1", first);
    await standIns.wrangler(["deploy"]);
    for (const [name, value] of Object.entries(SECRET_VALUES))
      await standIns.wrangler(["secret", "put", name], value);
  });
  await as("new image", async () => {
    standIns.configure("2", second);
    await standIns.wrangler(["deploy"]);
  });
  await as("secret rotation", () =>
    standIns.wrangler(["secret", "put", "STRIPE_SECRET_KEY"], "sk_engine_rotated_4410"),
  );
  // A secret put changes no var: the unchanged deploy is the new image's again.
  await as("no change", () => standIns.wrangler(["deploy"]));
  const bytesBefore = standIns.registry.storedBytes();
  await as("prune", async () => {
    for (const tag of program.prunedTags)
      await standIns.wrangler(["containers", "images", "delete", `${REPOSITORY}:${tag}`]);
  });
  return {
    recording,
    layersFreed: standIns.registry.storedBytes() < bytesBefore && standIns.registry.collections > 0,
  };
}
