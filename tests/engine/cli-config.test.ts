// The real Pulumi CLI (v3.274.1) reading this project's Pulumi.yaml and stack files, compared with the offline
// plan's reader (lib/plan/stack-file.ts) and the program's config schema (lib/config.ts). No stand-ins.
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, PROJECT, parseStackConfig } from "../../lib/config";
import { parseStackFile as parseText, projectDefaults, StackFileError } from "../../lib/plan/stack-file";
import { REPO_ROOT } from "../support/alpha";
import { EngineSandbox, engineMissing } from "./harness";

/** The first failure of a CLI run that got past config validation: no language host here. */
const NO_LANGUAGE_HOST = "no language plugin 'pulumi-language-nodejs' found";

/** Edits are made on the text, so that each value keeps the exact spelling under test (0123, 3.0, ~). */
type Edit = (text: string) => string;
const CONFIG_LINE = (key: string) => new RegExp(`^  ${key.replace(/[.]/g, "\\.")}:.*$`, "m");
/** Sets `key: <source>` in the config map: in place of its line, or as the first entry. */
const setKey =
  (key: string, source: string): Edit =>
  (text) =>
    CONFIG_LINE(key).test(text)
      ? text.replace(CONFIG_LINE(key), `  ${key}: ${source}`)
      : text.replace(/^config:\n/m, `config:\n  ${key}: ${source}\n`);
const deleteKey =
  (key: string): Edit =>
  (text) =>
    text.replace(CONFIG_LINE(key), "");
const appendTop =
  (line: string): Edit =>
  (text) =>
    `${text.trimEnd()}\n${line}\n`;
const replaceText =
  (from: string, to: string): Edit =>
  (text) =>
    text.replace(from, to);
const ns = (key: string) => `${PROJECT}:${key}`;

interface Variant {
  name: string;
  edit: Edit;
  /** The setting an invalid file must be rejected for (by the CLI or the program, and by the plan). */
  rejects?: string;
}

const VARIANTS: Variant[] = [
  // Typing: both sides must read the same strings.
  {
    name: "maxInstances: 0123 is octal to yaml.v3, so 83",
    edit: setKey(ns("cloudflare.maxInstances"), "0123"),
  },
  { name: "maxInstances: 0x3 is hex, so 3", edit: setKey(ns("cloudflare.maxInstances"), "0x3") },
  { name: "maxInstances: 1_0 is 10", edit: setKey(ns("cloudflare.maxInstances"), "1_0") },
  { name: "maxInstances: 3.0 is the float 3", edit: setKey(ns("cloudflare.maxInstances"), "3.0") },
  { name: 'maxInstances: "7" quoted', edit: setKey(ns("cloudflare.maxInstances"), '"7"') },
  { name: "workerName: yes stays a string", edit: setKey(ns("cloudflare.workerName"), "yes") },
  {
    name: "keys without a namespace get the project's",
    edit: (text) =>
      setKey("cloudflare.workerName", "spectral-alpha")(deleteKey(ns("cloudflare.workerName"))(text)),
  },
  { name: "a top-level key Pulumi ignores", edit: appendTop("owner: platform-team") },
  // Mutations the plan rejects: the CLI or the program must reject them too, naming the setting.
  { name: "a missing setting", edit: deleteKey(ns("cloudflare.accountId")), rejects: "cloudflare.accountId" },
  {
    name: "maxInstances: three",
    edit: setKey(ns("cloudflare.maxInstances"), "three"),
    rejects: "cloudflare.maxInstances",
  },
  {
    name: "maxInstances: 3.5",
    edit: setKey(ns("cloudflare.maxInstances"), "3.5"),
    rejects: "cloudflare.maxInstances",
  },
  {
    name: 'maxInstances: "0x3" quoted',
    edit: setKey(ns("cloudflare.maxInstances"), '"0x3"'),
    rejects: "cloudflare.maxInstances",
  },
  {
    name: "maxInstances: 0200, octal 128, over the limit",
    edit: setKey(ns("cloudflare.maxInstances"), "0200"),
    rejects: "cloudflare.maxInstances",
  },
  {
    name: "an unquoted compatibilityDate becomes a Go timestamp",
    edit: setKey(ns("cloudflare.compatibilityDate"), "2026-11-01"),
    rejects: "cloudflare.compatibilityDate",
  },
  {
    name: "compatibilityFlags as a string",
    edit: setKey(ns("cloudflare.compatibilityFlags"), "nodejs_compat"),
    rejects: "cloudflare.compatibilityFlags",
  },
  {
    name: "rollout steps that do not end at 100",
    edit: setKey(ns("cloudflare.rolloutStepPercentages"), "[10, 50]"),
    rejects: "cloudflare.rolloutStepPercentages",
  },
  {
    name: "secrets as a map",
    edit: (text) => setKey(ns("secrets"), "{}")(text.replace(/^ {4}[- ] .*\n/gm, "")),
    rejects: "secrets",
  },
  {
    name: "a secret with an invalid name",
    edit: replaceText("- name: API_DATABASE_URL", "- name: 1BAD"),
    rejects: "secrets[0] (1BAD).name",
  },
  {
    name: "an empty workerName",
    edit: setKey(ns("cloudflare.workerName"), ""),
    rejects: "cloudflare.workerName",
  },
  {
    name: "workerName: ~",
    edit: setKey(ns("cloudflare.workerName"), "~"),
    rejects: "cloudflare.workerName",
  },
  {
    name: "a misspelt setting",
    edit: setKey(ns("cloudflare.maxInstance"), "3"),
    rejects: "cloudflare.maxInstance",
  },
  {
    name: "a key with two colons",
    edit: setKey("spectral-infra:cloudflare:x", "1"),
    rejects: "spectral-infra:cloudflare:x",
  },
  {
    name: "workersDev: false and no custom domain",
    edit: setKey(ns("cloudflare.workersDev"), "false"),
    rejects: "cloudflare.workersDev",
  },
  {
    name: "workersDev: yes",
    edit: setKey(ns("cloudflare.workersDev"), "yes"),
    rejects: "cloudflare.workersDev",
  },
  {
    name: "more instances than maxInstances",
    edit: setKey(ns("cloudflare.instances"), "5"),
    rejects: "cloudflare.instances",
  },
  {
    name: "a custom domain with workersDev off",
    edit: (text) =>
      setKey(
        ns("cloudflare.customDomain"),
        "api.spectral.example",
      )(setKey(ns("cloudflare.workersDev"), "false")(text)),
  },
  {
    name: "a setting under a misspelt namespace, which the CLI passes on and the program would never read",
    edit: setKey("spectral:cloudflare.maxInstances", "5"),
    rejects: "spectral:cloudflare.maxInstances",
  },
  // The CLI's own message names no key here (json: unsupported value: NaN); both sides must still refuse.
  { name: "a NaN value", edit: setKey(ns("cloudflare.maxInstances"), ".nan") },
  { name: "an ESC environment", edit: appendTop("environment: [spectral/alpha]"), rejects: "environment" },
];

const missing = engineMissing();
/** A stack file's text read by the plan, with Pulumi.yaml's defaults as `pnpm plan` applies them. */
const parseStackFile = (text: string) => parseText(text, PROJECT, projectDefaults(REPO_ROOT));

describe.skipIf(missing !== undefined)("real Pulumi CLI: Pulumi.yaml and the stack files", () => {
  let sandbox: EngineSandbox;
  let project: string;
  let committed: string;
  let rewritten: string;

  const stackFile = () => join(project, "Pulumi.alpha.yaml");
  /** The config the CLI hands a program, or the CLI's error. */
  const cliConfig = async () => {
    const run = await sandbox.cli(project, ["config", "--json", "--show-secrets", "--stack", "alpha"]);
    if (run.code !== 0) return { error: run.stderr };
    const shown = JSON.parse(run.stdout) as Record<string, { value: string }>;
    return { config: Object.fromEntries(Object.entries(shown).map(([key, { value }]) => [key, value])) };
  };
  /** Whether `pulumi preview` got past config validation; otherwise its error. */
  const cliPreview = async () => {
    const run = await sandbox.cli(project, ["preview", "--stack", "alpha"]);
    return run.stderr.includes(NO_LANGUAGE_HOST)
      ? { accepted: true }
      : { accepted: false, error: run.stderr };
  };
  const programProblems = (config: Record<string, string>) => {
    try {
      parseStackConfig(config);
      return undefined;
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };
  const planProblems = (text: string) => {
    try {
      return programProblems(parseStackFile(text).config);
    } catch (error) {
      if (error instanceof StackFileError) return error.message;
      throw error;
    }
  };

  beforeAll(async () => {
    sandbox = new EngineSandbox();
    project = sandbox.dir;
    copyFileSync(join(REPO_ROOT, "Pulumi.yaml"), join(project, "Pulumi.yaml"));
    committed = readFileSync(join(REPO_ROOT, "Pulumi.alpha.yaml"), "utf8");
    writeFileSync(stackFile(), committed);
    const init = await sandbox.cli(project, ["stack", "init", "alpha", "--secrets-provider", "passphrase"]);
    expect(init.code, init.stderr).toBe(0);
    rewritten = readFileSync(stackFile(), "utf8");
  });
  afterAll(() => sandbox?.dispose());

  it("accepts the committed alpha stack: preview passes config validation and stops at the missing language host", async () => {
    const preview = await sandbox.cli(project, ["preview", "--stack", "alpha"]);
    expect(preview.stderr).not.toContain("validating stack config");
    expect(preview.stderr).toContain(`error: failed to load language plugin nodejs: ${NO_LANGUAGE_HOST}`);
  });

  it('reads the committed stack as the plan does, and the file it writes back ("3", encryptionsalt) reads the same', async () => {
    expect(rewritten).toContain('spectral-infra:cloudflare.maxInstances: "3"');
    expect(rewritten).toMatch(/^encryptionsalt: v1:/m);
    const cli = await cliConfig();
    expect(cli.config).toEqual(parseStackFile(committed).config);
    expect(parseStackFile(rewritten).config).toEqual(parseStackFile(committed).config);
    expect(programProblems(parseStackFile(rewritten).config)).toBeUndefined();
  });

  it.each(VARIANTS)("agrees with the plan on a stack file with $name", async ({ edit, rejects }) => {
    const text = edit(rewritten);
    expect(text).not.toBe(rewritten);
    writeFileSync(stackFile(), text);
    try {
      const [cli, preview] = [await cliConfig(), await cliPreview()];
      const planVerdict = planProblems(text);
      if (cli.config) {
        const planned = parseStackFile(text);
        expect(planned.config).toEqual(cli.config);
      }
      // The CLI, then the program on what the CLI hands it.
      const cliVerdict =
        preview.accepted && cli.config ? programProblems(cli.config) : (preview.error ?? cli.error);
      expect(planVerdict === undefined).toBe(cliVerdict === undefined);
      if (rejects) {
        expect(cliVerdict).toContain(rejects);
        expect(planVerdict).toContain(rejects);
      }
    } finally {
      writeFileSync(stackFile(), rewritten);
    }
  });
});

if (missing) console.warn(`\nSKIPPED: real Pulumi CLI suite: ${missing}\n`);
