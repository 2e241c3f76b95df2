/**
 * The stack's settings: one zod schema, parsed once, every problem reported together.
 *
 * Each setting is a flat project key (`spectral-infra:cloudflare.maxInstances`), declared in Pulumi.yaml
 * with its Pulumi type so that the CLI checks presence and type before the program starts. Pulumi.yaml
 * quotes the dotted names (`'["cloudflare.maxInstances"]'`): the CLI reads a declared key as a property
 * path, and an unquoted dot would mean a `cloudflare` object with a `maxInstances` field.
 * Pulumi types only the shape of the secrets manifest (a list of objects); zod checks the rest.
 */
import { Secrets } from "@1password/sdk";
import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { PROJECT, pulumiPath, valueAt } from "./config-path";
import { GENERATION_BINDING, SECRET_MANIFEST_BINDING } from "./secrets/container-contract";
import {
  DEPLOY_DATABASE_CA,
  DEPLOY_DATABASE_URL,
  DEPLOY_DIGEST_KEY,
  DEPLOY_SEAL_KEY,
} from "./secrets/resolve";
import { deployCredentialVaultProblems } from "./secrets/vaults";

export { PROJECT } from "./config-path";

/** How Pulumi.yaml declares a setting's type (the project schema's configTypeDeclaration). */
export type PulumiConfigType =
  | { type: "string" | "integer" | "boolean" }
  | { type: "array"; items: { type: "string" | "integer" | "object" } };

interface Setting<S extends z.ZodType> {
  schema: S;
  description: string;
  pulumi: PulumiConfigType;
  /** The value when a stack leaves the key out; Pulumi.yaml declares it, so the CLI applies it too. */
  default?: string | number | boolean;
}

function setting<S extends z.ZodType>(pulumi: PulumiConfigType, schema: S, description: string): Setting<S> {
  return { schema, description, pulumi };
}

/** A setting a stack may leave out. */
function defaulted<S extends z.ZodType<string | number | boolean>>(
  value: z.output<S> & (string | number | boolean),
  { schema, ...rest }: Setting<S>,
) {
  return { ...rest, schema: schema.default(value as never), default: value };
}

const STRING = { type: "string" } as const;
const INTEGER = { type: "integer" } as const;
const BOOLEAN = { type: "boolean" } as const;

function integerBetween(min: number, max: number) {
  const message = `must be a whole number between ${min} and ${max}`;
  return z.int({ error: message }).min(min, message).max(max, message);
}

function matching(pattern: RegExp, what: string) {
  return z.string({ error: `must be a string: ${what}` }).regex(pattern, `must be ${what}`);
}

/** 1Password's own offline parser; it throws a JSON string, not an Error. */
export function onePasswordReferenceProblem(reference: string): string | undefined {
  try {
    Secrets.validateSecretReference(reference);
    return undefined;
  } catch (thrown) {
    const text = typeof thrown === "string" ? thrown : String(thrown);
    try {
      const parsed = JSON.parse(text) as { message?: string };
      return parsed.message ?? text;
    } catch {
      return text;
    }
  }
}

const onePasswordReference = z
  .string({ error: "must be a 1Password reference like op://vault/item/field" })
  .superRefine((reference, ctx) => {
    const problem = onePasswordReferenceProblem(reference);
    if (problem) ctx.addIssue({ code: "custom", message: `is not a valid 1Password reference: ${problem}` });
  });

export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Variables the container's processes read at start-up: a secret by such a name would change them. */
const STARTUP_NAMES = /^(PATH|HOME|NODE_OPTIONS|LD_.*|PYTHON.*|UV_.*)$/i;
/** A Worker holds at most 128 environment variables and secrets (docs: workers/platform/limits). */
export const WORKER_TEXT_BINDING_LIMIT = 128;
/** Text bindings the program adds itself: sleep-after, instances, generation, commit, the secret layout. */
const PROGRAM_TEXT_BINDINGS = 5;
/** Names the program itself uses in the container's environment or the secret request. */
export const RESERVED_SECRET_NAMES = [
  DEPLOY_DATABASE_URL,
  DEPLOY_DATABASE_CA,
  DEPLOY_DIGEST_KEY,
  DEPLOY_SEAL_KEY,
  GENERATION_BINDING,
  SECRET_MANIFEST_BINDING,
];
export const GITHUB_ENVIRONMENT_SECRET_LIMIT = 100;
export const SERVICE_SCOPES = ["app", "api", "workers"] as const;
export const SECRET_TARGETS = ["github", "container"] as const;

const secretEntry = z
  .strictObject({
    name: matching(SECRET_NAME, "letters, digits and underscores, not starting with a digit")
      .refine(
        (name) => !name.toUpperCase().startsWith("GITHUB_"),
        "must not start with GITHUB_ (GitHub reserves that prefix)",
      )
      .refine(
        (name) => !name.toUpperCase().startsWith("SPECTRAL_"),
        "must not start with SPECTRAL_ (the program's own bindings and file secrets use that prefix)",
      )
      .refine(
        (name) => !STARTUP_NAMES.test(name),
        "must not be a variable that changes how processes start (PATH, HOME, LD_*, PYTHON*, NODE_OPTIONS, UV_*)",
      )
      .refine(
        (name) => !RESERVED_SECRET_NAMES.includes(name.toUpperCase()),
        `must not be one of ${RESERVED_SECRET_NAMES.join(", ")}, which the program sets itself`,
      ),
    reference: onePasswordReference,
    targets: z
      .array(z.enum(SECRET_TARGETS, { error: `must be one of: ${SECRET_TARGETS.join(", ")}` }), {
        error: "must be a list of targets: github, container",
      })
      .min(1, "must name at least one target: github, container")
      .refine((targets) => new Set(targets).size === targets.length, "must not repeat a target"),
    kind: z.enum(["env", "file"], { error: "must be env or file" }),
    fileName: matching(
      /^(?!\.{1,2}$)[A-Za-z0-9._-]+$/,
      "a plain file name (letters, digits, '.', '_', '-'; no '/', not '.' or '..')",
    )
      .refine((name) => Buffer.byteLength(name) <= 255, "must be at most 255 bytes (a file name's limit)")
      .optional(),
    scope: z.enum(SERVICE_SCOPES, { error: `must be one of: ${SERVICE_SCOPES.join(", ")}` }),
  })
  .superRefine((entry, ctx) => {
    if (entry.kind === "file" && entry.fileName === undefined) {
      ctx.addIssue({ code: "custom", path: ["fileName"], message: "is required when kind is file" });
    }
    if (entry.kind === "file" && entry.scope !== "app") {
      // Both children run as the image's one user, so no file under /etc/spectral can be kept from either.
      ctx.addIssue({
        code: "custom",
        path: ["scope"],
        message: "must be app for a file secret (files reach every process)",
      });
    }
    if (entry.kind === "env" && entry.fileName !== undefined) {
      ctx.addIssue({ code: "custom", path: ["fileName"], message: "is only allowed when kind is file" });
    }
  });

export type SecretEntry = z.infer<typeof secretEntry>;

const secretsManifest = z
  .array(secretEntry, { error: "must be a list of secret entries" })
  .superRefine((entries, ctx) => {
    const firstIndexByName = new Map<string, number>();
    entries.forEach((entry, index) => {
      if (typeof entry?.name !== "string") return;
      const folded = entry.name.toUpperCase();
      const first = firstIndexByName.get(folded);
      if (first === undefined) firstIndexByName.set(folded, index);
      else
        ctx.addIssue({
          code: "custom",
          path: [index, "name"],
          message: `duplicates secrets[${first}].name (names are compared ignoring case)`,
        });
    });
    const forGithub = entries.filter((entry) => entry?.targets?.includes("github")).length;
    if (forGithub > GITHUB_ENVIRONMENT_SECRET_LIMIT) {
      ctx.addIssue({
        code: "custom",
        message: `targets ${forGithub} secrets at GitHub; an environment holds at most ${GITHUB_ENVIRONMENT_SECRET_LIMIT}`,
      });
    }
    const forContainer = entries.filter((entry) => entry?.targets?.includes("container")).length;
    if (forContainer + PROGRAM_TEXT_BINDINGS > WORKER_TEXT_BINDING_LIMIT) {
      ctx.addIssue({
        code: "custom",
        message: `targets ${forContainer} secrets at the container; with the program's own ${PROGRAM_TEXT_BINDINGS} bindings that is more than the ${WORKER_TEXT_BINDING_LIMIT} a Worker may have`,
      });
    }
    // Two file secrets with one file name would overwrite each other under /etc/spectral.
    const firstIndexByFile = new Map<string, number>();
    entries.forEach((entry, index) => {
      if (entry?.kind !== "file" || typeof entry.fileName !== "string") return;
      const first = firstIndexByFile.get(entry.fileName);
      if (first === undefined) firstIndexByFile.set(entry.fileName, index);
      else
        ctx.addIssue({
          code: "custom",
          path: [index, "fileName"],
          message: `duplicates secrets[${first}].fileName: both would be /etc/spectral/${entry.fileName}`,
        });
    });
  });

/** Every stack setting. The order here is the order of Pulumi.yaml and the README reference. */
export const SETTINGS = {
  "cloudflare.accountId": setting(
    STRING,
    matching(/^[0-9a-f]{32}$/, "a 32-character lowercase hex Cloudflare account id"),
    "Cloudflare account that owns the Worker, the container application and the image registry.",
  ),
  "cloudflare.workerName": setting(
    STRING,
    matching(/^[a-z0-9][a-z0-9-]{0,62}$/, "a Worker name: lowercase letters, digits and '-', at most 63"),
    "Name of the Worker that fronts the app container.",
  ),
  "cloudflare.compatibilityDate": setting(
    STRING,
    z.string({ error: "must be a string: a date like 2026-11-01" }).superRefine((date, ctx) => {
      if (/^\d{4}-\d{2}-\d{2}$/.test(date)) {
        const day = new Date(`${date}T00:00:00Z`);
        if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== date)
          ctx.addIssue({ code: "custom", message: `must be a real date; ${date} does not exist` });
        else if (day.getTime() > Date.now())
          ctx.addIssue({
            code: "custom",
            message: `must not be in the future (${date}); the runtime refuses it`,
          });
        return;
      }
      // The CLI's YAML reader turns an unquoted date into Go's timestamp text: say so.
      const timestamp = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}/.test(date);
      ctx.addIssue({
        code: "custom",
        message: timestamp
          ? 'must be a quoted date: YAML read the unquoted date as a timestamp; write "2026-11-01"'
          : "must be a date like 2026-11-01",
      });
    }),
    "Workers runtime compatibility date of the Worker.",
  ),
  "cloudflare.compatibilityFlags": setting(
    { type: "array", items: STRING },
    z
      .array(matching(/^[a-z0-9_]+$/, "a flag like nodejs_compat"), {
        error: "must be a list of compatibility flags, e.g. [nodejs_compat], or []",
      })
      .superRefine((flags, ctx) => {
        // A flag and its no_ twin contradict each other (the runtime refuses the pair).
        for (const flag of flags.filter((each) => flags.includes(`no_${each}`)))
          ctx.addIssue({ code: "custom", message: `sets both ${flag} and no_${flag}` });
      }),
    "Workers runtime compatibility flags of the Worker (the Worker's code needs none today).",
  ),
  "cloudflare.containerName": setting(
    STRING,
    matching(/^[a-z0-9][a-z0-9-]{0,62}$/, "a container application name: lowercase letters, digits and '-'"),
    "Name of the Cloudflare container application (and of the image in Cloudflare's registry).",
  ),
  "cloudflare.instanceType": setting(
    STRING,
    z.enum(["lite", "basic", "standard-1", "standard-2", "standard-3", "standard-4"], {
      error: "must be one of: lite, basic, standard-1, standard-2, standard-3, standard-4",
    }),
    "Container instance type; it caps CPU, memory and the image's disk.",
  ),
  "cloudflare.maxInstances": setting(
    INTEGER,
    integerBetween(1, 100),
    "Most container instances the application may run at once.",
  ),
  "cloudflare.instances": defaulted(
    1,
    setting(
      INTEGER,
      integerBetween(1, 100),
      "Instances that serve the API (each runs its own set of workers); below maxInstances, since a cutover runs one extra container.",
    ),
  ),
  "cloudflare.startTimeoutSeconds": defaulted(
    90,
    setting(
      INTEGER,
      integerBetween(5, 900),
      "How long a new generation's container may take to answer /health with 200; until then the old one serves, and after it the start counts as failed.",
    ),
  ),
  "cloudflare.workersDev": defaulted(
    true,
    setting(
      BOOLEAN,
      z.boolean({ error: "must be true or false" }),
      "Serve the Worker on its workers.dev subdomain (https://<worker>.<account subdomain>.workers.dev).",
    ),
  ),
  "cloudflare.customDomain": defaulted(
    "",
    setting(
      STRING,
      z.union(
        [
          z.literal(""),
          matching(
            /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
            'a lowercase hostname like api.example.com, or "" for none',
          ),
        ],
        {
          error: 'must be a lowercase hostname like api.example.com, or "" for none',
        },
      ),
      "Custom domain the Worker answers on (a hostname in a zone of the account); empty for none.",
    ),
  ),
  "cloudflare.sleepAfter": setting(
    STRING,
    matching(/^\d+[smh]$/, "a duration like 30s, 10m or 1h").refine(
      (duration) => Number.parseInt(duration, 10) > 0,
      "must be longer than 0 (a container would stop as soon as it started)",
    ),
    "How long an idle container keeps running before it sleeps.",
  ),
  "cloudflare.rolloutStepPercentages": setting(
    { type: "array", items: INTEGER },
    z
      .array(integerBetween(10, 100), { error: "must be a list of percentages, e.g. [10, 100]" })
      .min(1, "must list at least one step")
      .refine(
        (steps) => steps.every((step, i) => i === 0 || step > steps[i - 1]),
        "must increase step by step",
      )
      .refine((steps) => steps[steps.length - 1] === 100, "must end at 100"),
    "Percent of instances updated at each step of a rolling container rollout (10 to 100, increasing, ending at 100).",
  ),
  "cloudflare.rolloutGracePeriodSeconds": defaulted(
    30,
    setting(
      INTEGER,
      integerBetween(0, 3600),
      "Seconds a running instance may finish its work before a rollout stops it (Cloudflare's default is 0).",
    ),
  ),
  "cloudflare.rolloutTimeoutSeconds": defaulted(
    900,
    setting(
      INTEGER,
      integerBetween(60, 7200),
      "How long pulumi up waits for a container rollout to complete.",
    ),
  ),
  "cloudflare.verifyTimeoutSeconds": defaulted(
    300,
    setting(
      INTEGER,
      integerBetween(30, 3600),
      "How long pulumi up waits for <url>/health to report the new generation and image before failing.",
    ),
  ),
  "cloudflare.requestTimeoutSeconds": defaulted(
    30,
    setting(
      INTEGER,
      integerBetween(1, 300),
      "How long one request to the Cloudflare API, its image registry or the Worker's /health may take before it counts as hung.",
    ),
  ),
  "cloudflare.retryBudgetSeconds": defaulted(
    60,
    setting(
      INTEGER,
      integerBetween(0, 900),
      "How long one call keeps retrying what Cloudflare did not carry out (a 429 or 503 with Retry-After, a 5xx or hang on a read); a longer Retry-After fails at once.",
    ),
  ),
  "cloudflare.imagesToKeep": defaulted(
    5,
    setting(
      INTEGER,
      integerBetween(1, 100),
      "How many deployed images stay in Cloudflare's registry after a deploy (the current one included); older ones are deleted.",
    ),
  ),
  "github.owner": setting(
    STRING,
    // GitHub's rule: letters, digits and single hyphens, not at either end, at most 39 characters.
    matching(
      /^(?=.{1,39}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/,
      "a GitHub user or organization name (letters, digits, single hyphens inside, at most 39)",
    ),
    "GitHub organization or user that owns the repository.",
  ),
  "github.repository": setting(
    STRING,
    matching(
      /^(?!\.{1,2}$)(?!.*\.git$)[A-Za-z0-9._-]{1,100}$/,
      "a repository name without the owner (letters, digits, '.', '_', '-'; not '.', '..' or ending .git)",
    ),
    "Repository whose Environment receives the deploy secrets.",
  ),
  "github.environment": setting(
    STRING,
    matching(/^[A-Za-z0-9 ._-]{1,255}$/, "a GitHub Environment name"),
    "GitHub Environment the stack deploys from (its secrets are reconciled from 1Password).",
  ),
  "github.reviewerIds": setting(
    { type: "array", items: INTEGER },
    z
      .array(
        z.int({ error: "must be a GitHub user id (a whole number)" }).positive("must be a GitHub user id"),
        {
          error: "must be a list of GitHub user ids, e.g. [1234567]",
        },
      )
      // GitHub's rule: at most 6 required reviewers per environment (terraform-provider-github's schema).
      .min(1, "must name at least one reviewer: PR previews run only after one of them approves")
      .max(6, "must name at most 6 reviewers (GitHub's limit per environment)")
      .refine((ids) => new Set(ids).size === ids.length, "must not repeat a reviewer"),
    "GitHub user ids (gh api users/LOGIN --jq .id) who must approve each PR preview (environment <github.environment>-preview), and each deploy when github.deployNeedsReview is true. At most 6.",
  ),
  "github.deployNeedsReview": defaulted(
    false,
    setting(
      BOOLEAN,
      z.boolean({ error: "must be true or false" }),
      "Also require one of github.reviewerIds to approve each deploy (the github.environment environment).",
    ),
  ),
  "database.deployUrlReference": setting(
    STRING,
    onePasswordReference,
    "1Password reference to the deploy role's PostgreSQL URL, used to allocate deployment generations.",
  ),
  "database.caReference": defaulted(
    "",
    setting(
      STRING,
      z.union([z.literal(""), onePasswordReference], {
        error: 'must be a 1Password reference like op://vault/item/field, or "" for none',
      }),
      "1Password reference to the deployment database's root CA certificate (PEM, a text field); the server's certificate must chain to it. Supabase's chains to Supabase's own root CA, which Node does not trust. \"\" trusts Node's default store only.",
    ),
  ),
  "deploy.digestKeyReference": setting(
    STRING,
    onePasswordReference,
    "1Password reference to a random key (at least 24 characters; openssl rand -hex 32 gives 64) that keys the digests of secret values: the deployment fingerprint, and the per-binding digest that shows which secret a change touches.",
  ),
  "deploy.sealKeyReference": setting(
    STRING,
    onePasswordReference,
    "1Password reference to a random key (at least 24 characters; openssl rand -hex 32), in a vault only the deploy reads, that keys the sealing of the GitHub Environment secrets so that an unchanged secret seals to the same text. Previews never read it, so a sealed text in state cannot be used to test guesses.",
  ),
  "deploy.localSecretsFile": defaulted(
    "",
    setting(
      STRING,
      z.string({ error: 'must be a file path, or "" to read 1Password' }),
      'Dev stacks only: a local NAME=value file to read every secret from instead of 1Password (relative to the project), refused unless CLOUDFLARE_API_BASE_URL is a stand-in on loopback (pnpm standins). "" (the default) reads 1Password.',
    ),
  ),
  secrets: setting(
    { type: "array", items: { type: "object" } },
    secretsManifest,
    "Secrets manifest: a list of { name, reference, targets, kind, fileName?, scope } (see docs/configuration.md).",
  ),
} satisfies Record<string, Setting<z.ZodType>>;

export type SettingKey = keyof typeof SETTINGS;

const stackConfigSchema = z
  .strictObject(
    Object.fromEntries(Object.entries(SETTINGS).map(([key, { schema }]) => [key, schema])) as {
      [K in SettingKey]: (typeof SETTINGS)[K]["schema"];
    },
  )
  .superRefine((config, ctx) => {
    // Blue/green: a cutover runs one instance's new container beside its old one, one instance at a time.
    if (config["cloudflare.instances"] + 1 > config["cloudflare.maxInstances"]) {
      ctx.addIssue({
        code: "custom",
        path: ["cloudflare.instances"],
        message: `must be below cloudflare.maxInstances (${config["cloudflare.maxInstances"]}): a cutover runs one extra container (an instance's new one beside its old one); raise maxInstances to ${config["cloudflare.instances"] + 1} or lower instances`,
      });
    }
    for (const problem of deployCredentialVaultProblems(config)) ctx.addIssue({ code: "custom", ...problem });
    if (!config["cloudflare.workersDev"] && config["cloudflare.customDomain"] === "") {
      ctx.addIssue({
        code: "custom",
        path: ["cloudflare.workersDev"],
        message: "is false and cloudflare.customDomain is empty: nothing would reach the Worker; enable one",
      });
    }
  });

export type StackConfig = z.infer<typeof stackConfigSchema>;

/**
 * Invalid stack config, already worded for an operator: one line per problem. A RunError, so the
 * Pulumi CLI prints the message alone, without a stack trace.
 */
export class ConfigError extends pulumi.RunError {
  constructor(readonly problems: string[]) {
    super(
      `invalid stack config (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n${problems.map((p) => `  ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

/** Pulumi hands every value over as a string; structured ones are JSON. */
function decode(key: string, raw: string): unknown {
  const declared = (SETTINGS as Record<string, Setting<z.ZodType>>)[key]?.pulumi;
  if (declared?.type === "string") return raw;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function describeIssue(issue: z.core.$ZodIssue, values: Record<string, unknown>): string[] {
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((unknown) => {
      const where = pulumiPath([...issue.path, unknown], values);
      return issue.path.length === 0
        ? `${where}: is not a known setting; remove it or fix its spelling (docs/configuration.md lists every setting)`
        : `${where}: is not a known field; remove it or fix its spelling`;
    });
  }
  if (issue.path.length === 0) return [`${PROJECT}: ${issue.message}`];
  const where = pulumiPath(issue.path, values);
  if (valueAt(values, issue.path) === undefined && issue.code !== "custom") {
    return [
      issue.path.length === 1
        ? `${where}: is required; add it to Pulumi.<stack>.yaml (docs/configuration.md lists every setting)`
        : `${where}: is required`,
    ];
  }
  return [`${where}: ${issue.message}`];
}

/**
 * A key this program would never read but an operator meant for it: a namespace that is ours misspelled
 * (`spectral:`, `Spectral-Infra:`, `spectral_infra:`), or one of our setting names under another namespace.
 * Providers' own keys (`cloudflare:apiToken`, `github:owner`) are left alone.
 */
function strayKeyProblem(fullKey: string): string | undefined {
  const colon = fullKey.indexOf(":");
  const [namespace, name] = [fullKey.slice(0, colon), fullKey.slice(colon + 1)];
  const oursMisspelled = namespace
    .toLowerCase()
    .replace(/[^a-z]/g, "")
    .startsWith("spectral");
  if (!oursMisspelled && !(name in SETTINGS)) return undefined;
  return `${fullKey}: is in namespace ${namespace}, which this program never reads; write it as ${PROJECT}:${name} (pulumi config set ${name} … does)`;
}

/**
 * Parses the full Pulumi config map (as `pulumi.runtime.allConfig()` returns it) into typed settings.
 * Keys of other namespaces (providers') are ignored, unless they look meant for this program
 * (strayKeyProblem). Throws one ConfigError listing every problem.
 */
export function parseStackConfig(
  allConfig: Record<string, string>,
  secretKeys: readonly string[] = [],
): StackConfig {
  const prefix = `${PROJECT}:`;
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [fullKey, raw] of Object.entries(allConfig)) {
    if (!fullKey.startsWith(prefix)) {
      const stray = strayKeyProblem(fullKey);
      if (stray) problems.push(stray);
      continue;
    }
    const key = fullKey.slice(prefix.length);
    if (secretKeys.includes(fullKey)) {
      problems.push(
        `${fullKey}: must not be a secret config value; credentials come from the environment or 1Password references (remove the secure: value)`,
      );
    }
    values[key] = decode(key, raw);
  }
  const result = stackConfigSchema.safeParse(values);
  if (!result.success) problems.push(...result.error.issues.flatMap((issue) => describeIssue(issue, values)));
  if (problems.length > 0) throw new ConfigError(problems.sort());
  return result.data as StackConfig;
}

/** Reads this program's config from the Pulumi runtime: the one place the program parses it. */
export function readStackConfig(): StackConfig {
  // isConfigSecret is internal to the SDK but is the only way to learn which keys were `secure:`.
  const { isConfigSecret } = require("@pulumi/pulumi/runtime/config") as {
    isConfigSecret(key: string): boolean;
  };
  const all = pulumi.runtime.allConfig();
  return parseStackConfig(all, Object.keys(all).filter(isConfigSecret));
}
