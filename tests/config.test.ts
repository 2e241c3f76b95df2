import { describe, expect, it } from "vitest";
import { ConfigError, parseStackConfig, type StackConfig } from "../lib/config";
import { alphaConfig, alphaConfigWith } from "./support/alpha";

const KEY = "spectral-infra:";

function problemsOf(config: Record<string, string>, secretKeys: string[] = []): string[] {
  try {
    parseStackConfig(config, secretKeys);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as ConfigError).problems;
  }
  throw new Error("expected the config to be rejected");
}

function secretsWith(change: (secrets: Record<string, unknown>[]) => void): string {
  const secrets = JSON.parse(alphaConfig()[`${KEY}secrets`]) as Record<string, unknown>[];
  change(secrets);
  return JSON.stringify(secrets);
}

describe("stack config", () => {
  it("accepts the committed alpha stack and types its values", () => {
    const config: StackConfig = parseStackConfig(alphaConfig());
    expect(config["cloudflare.maxInstances"]).toBe(3);
    expect(config["cloudflare.rolloutStepPercentages"]).toEqual([10, 100]);
    expect(config["cloudflare.compatibilityDate"]).toBe("2026-11-01");
    expect(config.secrets.find((secret) => secret.kind === "file")?.fileName).toBe("supabase-ca.crt");
  });

  it("ignores other namespaces' keys, such as providers' settings", () => {
    expect(() =>
      parseStackConfig({
        ...alphaConfig(),
        "cloudflare:apiToken": "x",
        "github:owner": "y",
        "pulumi:tags": "{}",
      }),
    ).not.toThrow();
  });

  it("reports keys meant for this program that it would never read (#15 item 9)", () => {
    expect(
      problemsOf({
        ...alphaConfig(),
        "spectral:cloudflare.maxInstances": "5",
        "Spectral-Infra:github.owner": "someone",
        "spectral_infra:anything": "x",
        "infra:cloudflare.workerName": "w",
      }),
    ).toEqual([
      "Spectral-Infra:github.owner: is in namespace Spectral-Infra, which this program never reads; write it as spectral-infra:github.owner (pulumi config set github.owner … does)",
      "infra:cloudflare.workerName: is in namespace infra, which this program never reads; write it as spectral-infra:cloudflare.workerName (pulumi config set cloudflare.workerName … does)",
      "spectral:cloudflare.maxInstances: is in namespace spectral, which this program never reads; write it as spectral-infra:cloudflare.maxInstances (pulumi config set cloudflare.maxInstances … does)",
      "spectral_infra:anything: is in namespace spectral_infra, which this program never reads; write it as spectral-infra:anything (pulumi config set anything … does)",
    ]);
  });

  it("names a missing key", () => {
    expect(problemsOf(alphaConfigWith({ [`${KEY}github.owner`]: undefined }))).toEqual([
      `${KEY}github.owner: is required; add it to Pulumi.<stack>.yaml (docs/configuration.md lists every setting)`,
    ]);
  });

  it("names a value of the wrong type", () => {
    expect(problemsOf(alphaConfigWith({ [`${KEY}cloudflare.maxInstances`]: "three" }))).toEqual([
      `${KEY}cloudflare.maxInstances: must be a whole number between 1 and 100`,
    ]);
    expect(problemsOf(alphaConfigWith({ [`${KEY}cloudflare.rolloutStepPercentages`]: "10" }))).toEqual([
      `${KEY}cloudflare.rolloutStepPercentages: must be a list of percentages, e.g. [10, 100]`,
    ]);
  });

  it("names an out-of-range number", () => {
    expect(problemsOf(alphaConfigWith({ [`${KEY}cloudflare.maxInstances`]: "101" }))).toEqual([
      `${KEY}cloudflare.maxInstances: must be a whole number between 1 and 100`,
    ]);
    expect(
      problemsOf(alphaConfigWith({ [`${KEY}cloudflare.rolloutStepPercentages`]: "[50, 10, 100]" })),
    ).toEqual([`${KEY}cloudflare.rolloutStepPercentages: must increase step by step`]);
  });

  it("holds rollout steps to the API's 10 to 100 percent, and the timeouts to sane bounds", () => {
    expect(problemsOf(alphaConfigWith({ [`${KEY}cloudflare.rolloutStepPercentages`]: "[5, 100]" }))).toEqual([
      `${KEY}cloudflare.rolloutStepPercentages[0]: must be a whole number between 10 and 100`,
    ]);
    expect(
      problemsOf(
        alphaConfigWith({
          [`${KEY}cloudflare.rolloutTimeoutSeconds`]: "5",
          [`${KEY}cloudflare.verifyTimeoutSeconds`]: "0",
          [`${KEY}cloudflare.rolloutGracePeriodSeconds`]: "-1",
        }),
      ),
    ).toEqual([
      `${KEY}cloudflare.rolloutGracePeriodSeconds: must be a whole number between 0 and 3600`,
      `${KEY}cloudflare.rolloutTimeoutSeconds: must be a whole number between 60 and 7200`,
      `${KEY}cloudflare.verifyTimeoutSeconds: must be a whole number between 30 and 3600`,
    ]);
  });

  it("names a malformed compatibility flag", () => {
    expect(
      problemsOf(alphaConfigWith({ [`${KEY}cloudflare.compatibilityFlags`]: '["Nodejs Compat"]' })),
    ).toEqual([`${KEY}cloudflare.compatibilityFlags[0]: must be a flag like nodejs_compat`]);
  });

  it("names an unknown key, at the top level and inside a secret entry", () => {
    expect(problemsOf(alphaConfigWith({ [`${KEY}cloudflare.maxInstance`]: "3" }))).toEqual([
      `${KEY}cloudflare.maxInstance: is not a known setting; remove it or fix its spelling (docs/configuration.md lists every setting)`,
    ]);
    const secrets = secretsWith((entries) => {
      entries[1].scopes = "api";
    });
    expect(problemsOf(alphaConfigWith({ [`${KEY}secrets`]: secrets }))).toEqual([
      `${KEY}secrets[1] (WORKERS_DATABASE_URL).scopes: is not a known field; remove it or fix its spelling`,
    ]);
  });

  it("names a duplicate secret name, ignoring case", () => {
    const secrets = secretsWith((entries) => {
      entries[4].name = (entries[0].name as string).toLowerCase();
    });
    expect(problemsOf(alphaConfigWith({ [`${KEY}secrets`]: secrets }))).toEqual([
      `${KEY}secrets[4] (api_database_url).name: duplicates secrets[0].name (names are compared ignoring case)`,
    ]);
  });

  it("names a malformed 1Password reference with 1Password's own reason", () => {
    const secrets = secretsWith((entries) => {
      entries[2].reference = "op://vault-only";
    });
    const problems = problemsOf(
      alphaConfigWith({ [`${KEY}secrets`]: secrets, [`${KEY}database.deployUrlReference`]: "postgres://x" }),
    );
    expect(problems).toEqual([
      `${KEY}database.deployUrlReference: is not a valid 1Password reference: the secret reference could not be parsed: secret reference is not prefixed with "op://"`,
      expect.stringMatching(
        /^spectral-infra:secrets\[2\] \(SUPABASE_JWT_SECRET\)\.reference: is not a valid 1Password reference: the secret reference could not be parsed: secret reference has invalid format/,
      ),
    ]);
  });

  it("rejects bad secret names, targets and file names", () => {
    const secrets = secretsWith((entries) => {
      entries[0].name = "GITHUB_TOKEN";
      entries[1].name = "9LIVES";
      entries[2].targets = [];
      entries[6].fileName = "../etc/passwd";
      entries[7].fileName = undefined;
      entries[7].scope = "workers";
    });
    expect(problemsOf(alphaConfigWith({ [`${KEY}secrets`]: secrets }))).toEqual([
      `${KEY}secrets[0] (GITHUB_TOKEN).name: must not start with GITHUB_ (GitHub reserves that prefix)`,
      `${KEY}secrets[1] (9LIVES).name: must be letters, digits and underscores, not starting with a digit`,
      `${KEY}secrets[2] (SUPABASE_JWT_SECRET).targets: must name at least one target: github, container`,
      `${KEY}secrets[6] (DATABASE_CA_CERT).fileName: must be a plain file name (letters, digits, '.', '_', '-'; no '/', not '.' or '..')`,
      `${KEY}secrets[7] (GCS_SERVICE_ACCOUNT).fileName: is required when kind is file`,
      `${KEY}secrets[7] (GCS_SERVICE_ACCOUNT).scope: must be app for a file secret (files reach every process)`,
    ]);
  });

  it("rejects more than 100 secrets aimed at the GitHub environment", () => {
    const secrets = Array.from({ length: 101 }, (_, i) => ({
      name: `SECRET_${i}`,
      reference: `op://vault/item-${i}/field`,
      targets: ["github"],
      kind: "env",
      scope: "app",
    }));
    expect(problemsOf(alphaConfigWith({ [`${KEY}secrets`]: JSON.stringify(secrets) }))).toEqual([
      `${KEY}secrets: targets 101 secrets at GitHub; an environment holds at most 100`,
    ]);
  });

  it("keeps deploy credentials in a vault that no preview reads (#15 item 2)", () => {
    const moved = secretsWith((entries) => {
      entries[8].reference = "op://spectral-alpha/cloudflare-deploy/credential";
    });
    expect(
      problemsOf(
        alphaConfigWith({
          [`${KEY}secrets`]: moved,
          [`${KEY}database.deployUrlReference`]: "op://Spectral-Alpha/deploy-database/url",
        }),
      ),
    ).toEqual([
      `${KEY}database.deployUrlReference: the deploy database URL is a deploy credential, but its vault spectral-alpha also holds API_DATABASE_URL, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy)`,
      `${KEY}secrets[8] (CLOUDFLARE_API_TOKEN).reference: CLOUDFLARE_API_TOKEN (GitHub only) is a deploy credential, but its vault spectral-alpha also holds API_DATABASE_URL, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy)`,
    ]);
    // The digest key and the CA are read by previews too.
    expect(
      problemsOf(
        alphaConfigWith({
          [`${KEY}deploy.digestKeyReference`]: "op://spectral-alpha-deploy/digest/credential",
        }),
      ),
    ).toEqual([
      `${KEY}database.deployUrlReference: the deploy database URL is a deploy credential, but its vault spectral-alpha-deploy also holds deploy.digestKeyReference, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy-deploy)`,
      `${KEY}deploy.sealKeyReference: the GitHub seal key is a deploy credential, but its vault spectral-alpha-deploy also holds deploy.digestKeyReference, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy-deploy)`,
      `${KEY}secrets[8] (CLOUDFLARE_API_TOKEN).reference: CLOUDFLARE_API_TOKEN (GitHub only) is a deploy credential, but its vault spectral-alpha-deploy also holds deploy.digestKeyReference, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy-deploy)`,
      `${KEY}secrets[9] (PULUMI_ACCESS_TOKEN).reference: PULUMI_ACCESS_TOKEN (GitHub only) is a deploy credential, but its vault spectral-alpha-deploy also holds deploy.digestKeyReference, which PR previews read; move it to a vault only the deploy's service account reads (e.g. spectral-alpha-deploy-deploy)`,
    ]);
  });

  it.each([
    ["[]", "must name at least one reviewer: PR previews run only after one of them approves"],
    ["[1, 2, 3, 4, 5, 6, 7]", "must name at most 6 reviewers (GitHub's limit per environment)"],
    ["[5, 5]", "must not repeat a reviewer"],
    ['["octocat"]', "[0]: must be a GitHub user id (a whole number)"],
    ["[0]", "[0]: must be a GitHub user id"],
  ])("rejects github.reviewerIds %s", (value, problem) => {
    const [message] = problemsOf(alphaConfigWith({ [`${KEY}github.reviewerIds`]: value }));
    expect(message).toBe(`${KEY}github.reviewerIds${problem.startsWith("[") ? "" : ": "}${problem}`);
  });

  it("rejects secure: values, since credentials never live in stack config", () => {
    expect(problemsOf(alphaConfig(), [`${KEY}github.owner`])).toEqual([
      `${KEY}github.owner: must not be a secret config value; credentials come from the environment or 1Password references (remove the secure: value)`,
    ]);
  });

  it("reports every problem together, one line each, without a stack trace", () => {
    const config = alphaConfigWith({
      [`${KEY}cloudflare.maxInstances`]: "0",
      [`${KEY}cloudflare.instanceType`]: "huge",
      [`${KEY}github.repository`]: undefined,
    });
    try {
      parseStackConfig(config);
      expect.unreachable();
    } catch (error) {
      const { message, problems } = error as ConfigError;
      expect(problems).toHaveLength(3);
      expect(message.split("\n")).toEqual([
        "invalid stack config (3 problems):",
        `  ${KEY}cloudflare.instanceType: must be one of: lite, basic, standard-1, standard-2, standard-3, standard-4`,
        `  ${KEY}cloudflare.maxInstances: must be a whole number between 1 and 100`,
        `  ${KEY}github.repository: is required; add it to Pulumi.<stack>.yaml (docs/configuration.md lists every setting)`,
      ]);
    }
  });

  describe("mistakes that would pass and fail later are rejected, each naming its key (#15 item 8)", () => {
    const cases: [string, Record<string, string | undefined>, string][] = [
      [
        "a date that does not exist",
        { "cloudflare.compatibilityDate": "2026-02-30" },
        "cloudflare.compatibilityDate: must be a real date",
      ],
      [
        "a date in the future",
        { "cloudflare.compatibilityDate": "2999-01-01" },
        "cloudflare.compatibilityDate: must not be in the future",
      ],
      [
        "contradictory flags",
        { "cloudflare.compatibilityFlags": '["nodejs_compat","no_nodejs_compat"]' },
        "cloudflare.compatibilityFlags: sets both nodejs_compat and no_nodejs_compat",
      ],
      ["sleepAfter 0s", { "cloudflare.sleepAfter": "0s" }, "cloudflare.sleepAfter: must be longer than 0"],
      [
        "instances with no room for a cutover's extra container",
        { "cloudflare.instances": "3", "cloudflare.maxInstances": "3" },
        "cloudflare.instances: must be below cloudflare.maxInstances (3): a cutover runs one extra container (an instance's new one beside its old one); raise maxInstances to 4 or lower instances",
      ],
      [
        "a start timeout under 5 s",
        { "cloudflare.startTimeoutSeconds": "1" },
        "cloudflare.startTimeoutSeconds: must be a whole number between 5 and 900",
      ],
      [
        "an owner GitHub refuses",
        { "github.owner": "-spectral" },
        "github.owner: must be a GitHub user or organization name",
      ],
      [
        "an owner with a double hyphen",
        { "github.owner": "spectral--hq" },
        "github.owner: must be a GitHub user",
      ],
      [
        "a repository ending .git",
        { "github.repository": "spectral.git" },
        "github.repository: must be a repository name",
      ],
      [
        "an empty worker name (an empty, ~ or null value in YAML)",
        { "cloudflare.workerName": "" },
        "cloudflare.workerName: must be a Worker name",
      ],
    ];
    it.each(cases)("%s", (_name, overrides, problem) => {
      const config = alphaConfigWith(
        Object.fromEntries(Object.entries(overrides).map(([key, value]) => [`${KEY}${key}`, value])),
      );
      expect(problemsOf(config).join("\n")).toContain(`${KEY}${problem}`);
    });

    const renameFirst = (name: string) => (entries: Record<string, unknown>[]) => {
      entries[0].name = name;
    };
    const secretCases: [string, (entries: Record<string, unknown>[]) => void, string][] = [
      [
        "a name in the program's SPECTRAL_ prefix",
        renameFirst("SPECTRAL_APP"),
        "secrets[0] (SPECTRAL_APP).name: must not start with SPECTRAL_",
      ],
      [
        "PATH",
        renameFirst("PATH"),
        "secrets[0] (PATH).name: must not be a variable that changes how processes start",
      ],
      [
        "LD_PRELOAD",
        renameFirst("LD_PRELOAD"),
        "secrets[0] (LD_PRELOAD).name: must not be a variable that changes how processes start",
      ],
      [
        "PYTHONPATH",
        renameFirst("PYTHONPATH"),
        "secrets[0] (PYTHONPATH).name: must not be a variable that changes how processes start",
      ],
      [
        "NODE_OPTIONS",
        renameFirst("node_options"),
        "secrets[0] (node_options).name: must not be a variable that changes how processes start",
      ],
      [
        "UV_INDEX_URL",
        renameFirst("UV_INDEX_URL"),
        "secrets[0] (UV_INDEX_URL).name: must not be a variable that changes how processes start",
      ],
      [
        "two file secrets with one file name",
        (e) => {
          e[7].fileName = e[6].fileName;
        },
        "secrets[7] (GCS_SERVICE_ACCOUNT).fileName: duplicates secrets[6].fileName",
      ],
      [
        "a file name over 255 bytes",
        (e) => {
          e[6].fileName = `${"a".repeat(256)}.crt`;
        },
        "secrets[6] (DATABASE_CA_CERT).fileName: must be at most 255 bytes",
      ],
      [
        "more container secrets than a Worker holds",
        (e) => {
          for (let i = 0; i < 124; i++) e.push({ ...e[0], name: `EXTRA_${i}` });
        },
        "secrets: targets 132 secrets at the container; with the program's own 5 bindings that is more than the 128",
      ],
    ];
    it.each(secretCases)("%s", (_name, change, problem) => {
      const config = alphaConfigWith({ [`${KEY}secrets`]: secretsWith(change) });
      expect(problemsOf(config).join("\n")).toContain(`${KEY}${problem}`);
    });
  });
});
