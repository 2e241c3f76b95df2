import { describe, expect, it } from "vitest";
import { parseStackConfig, type SecretEntry } from "../lib/config";
import { bindingDigest, deploymentFingerprint } from "../lib/deploy/fingerprint";
import {
  containerSecretLayout,
  githubSecretTargets,
  secretSizeProblems,
  workerSecretBindings,
} from "../lib/secrets/bindings";
import { alphaConfig } from "./support/alpha";

const manifest: SecretEntry[] = parseStackConfig(alphaConfig()).secrets;
const values = Object.fromEntries(manifest.map((entry) => [entry.name, `value-of-${entry.name}`]));

describe("what each target receives", () => {
  it("GitHub gets exactly the github-targeted secrets, named upper case", () => {
    expect(githubSecretTargets(manifest)).toEqual([
      { name: "SENTRY_DSN", secretName: "SENTRY_DSN" },
      { name: "CLOUDFLARE_API_TOKEN", secretName: "CLOUDFLARE_API_TOKEN" },
      { name: "PULUMI_ACCESS_TOKEN", secretName: "PULUMI_ACCESS_TOKEN" },
    ]);
  });

  it("the Worker gets one secret_text per container secret (files base64) and a plain-text layout", () => {
    const bindings = workerSecretBindings(manifest, values);
    expect(bindings.map(({ type, name }) => `${type} ${name}`)).toEqual([
      "secret_text API_DATABASE_URL",
      "secret_text WORKERS_DATABASE_URL",
      "secret_text SUPABASE_JWT_SECRET",
      "secret_text STRIPE_SECRET_KEY",
      "secret_text RESEND_API_KEY",
      "secret_text SENTRY_DSN",
      "secret_text SPECTRAL_FILE_DATABASE_CA_CERT",
      "secret_text SPECTRAL_FILE_GCS_SERVICE_ACCOUNT",
      "plain_text SPECTRAL_SECRET_MANIFEST",
    ]);
    const byName = new Map(bindings.map((binding) => [binding.name, binding.text]));
    expect(byName.get("STRIPE_SECRET_KEY")).toBe("value-of-STRIPE_SECRET_KEY");
    expect(Buffer.from(byName.get("SPECTRAL_FILE_DATABASE_CA_CERT") ?? "", "base64").toString()).toBe(
      "value-of-DATABASE_CA_CERT",
    );
    // GitHub-only secrets (deploy credentials) never reach the container.
    expect(byName.has("CLOUDFLARE_API_TOKEN")).toBe(false);
    const layout = JSON.parse(byName.get("SPECTRAL_SECRET_MANIFEST") ?? "{}");
    expect(layout).toEqual(containerSecretLayout(manifest));
    expect(JSON.stringify(layout)).not.toContain("value-of-");
  });

  it("the layout carries each secret's scope and each file's path under /etc/spectral", () => {
    expect(containerSecretLayout(manifest)).toEqual({
      env: {
        API_DATABASE_URL: "api",
        WORKERS_DATABASE_URL: "workers",
        SUPABASE_JWT_SECRET: "api",
        STRIPE_SECRET_KEY: "api",
        RESEND_API_KEY: "workers",
        SENTRY_DSN: "app",
      },
      files: {
        SPECTRAL_FILE_DATABASE_CA_CERT: { path: "/etc/spectral/supabase-ca.crt", scope: "app" },
        SPECTRAL_FILE_GCS_SERVICE_ACCOUNT: {
          path: "/etc/spectral/gcs-service-account.json",
          scope: "app",
        },
      },
    });
  });
});

describe("size checks once values are known (we fail with the secret's name; nothing is split)", () => {
  it("accepts values at the limits", () => {
    const atLimits = {
      ...values,
      SENTRY_DSN: "x".repeat(5 * 1024),
      PULUMI_ACCESS_TOKEN: "x".repeat(48 * 1024),
      DATABASE_CA_CERT: "x".repeat(3840), // 5120 bytes once base64-encoded
    };
    expect(secretSizeProblems(manifest, atLimits)).toEqual([]);
  });

  it("names each secret over a limit, counting base64 growth for files, and shows no value", () => {
    const tooBig = {
      ...values,
      PULUMI_ACCESS_TOKEN: "p".repeat(48 * 1024 + 1),
      STRIPE_SECRET_KEY: "s".repeat(5 * 1024 + 1),
      DATABASE_CA_CERT: "c".repeat(3841),
    };
    const problems = secretSizeProblems(manifest, tooBig);
    expect(problems).toEqual([
      "STRIPE_SECRET_KEY: is 5121 bytes; a Worker secret binding holds about 5 KB (5120 bytes): shrink it or keep it out of the container",
      "DATABASE_CA_CERT: is 5124 bytes once base64-encoded for the Worker binding; a Worker secret binding holds about 5 KB (5120 bytes): shrink it or keep it out of the container",
      "PULUMI_ACCESS_TOKEN: is 49153 bytes; a GitHub Environment secret holds at most 48 KB (49152 bytes)",
    ]);
    for (const problem of problems) expect(problem).not.toMatch(/ppp|sss|ccc/);
  });
});

describe("deployment fingerprint (what the container starts with, besides its image)", () => {
  const settings = { instanceType: "standard-1", maxInstances: 3, sleepAfter: "10m" };
  const KEY = "k".repeat(32);
  const fingerprintOf = (secretValues: Record<string, string>, overrides = {}, key = KEY) =>
    deploymentFingerprint(workerSecretBindings(manifest, secretValues), { ...settings, ...overrides }, key);

  it("changes when a container secret rotates, and only then", () => {
    expect(fingerprintOf({ ...values })).toBe(fingerprintOf(values));
    expect(fingerprintOf({ ...values, RESEND_API_KEY: "rotated" })).not.toBe(fingerprintOf(values));
    expect(fingerprintOf(values)).toMatch(/^[0-9a-f]{64}$/);
  });

  it("ignores a GitHub-only secret, which no container sees", () => {
    expect(fingerprintOf({ ...values, PULUMI_ACCESS_TOKEN: "rotated" })).toBe(fingerprintOf(values));
  });

  it("changes with each container setting", () => {
    for (const override of [{ instanceType: "basic" }, { maxInstances: 4 }, { sleepAfter: "5m" }])
      expect(fingerprintOf(values, override)).not.toBe(fingerprintOf(values));
  });

  it("keeps binding boundaries: moving bytes between two values changes it", () => {
    const a = deploymentFingerprint([{ type: "secret_text", name: "A", text: "bc" }], settings, KEY);
    const b = deploymentFingerprint([{ type: "secret_text", name: "AB", text: "c" }], settings, KEY);
    expect(a).not.toBe(b);
  });

  it("is keyed: without the stack's digest key, a low-entropy value cannot be found from it", () => {
    const pin = (value: string, key: string) =>
      deploymentFingerprint([{ type: "secret_text", name: "PIN", text: value }], settings, key);
    const published = pin("493817", KEY);
    // An attacker with every PIN but not the key finds nothing.
    const guessed = Array.from({ length: 1000 }, (_, i) => String(493000 + i)).find(
      (candidate) => pin(candidate, "attacker-guess-of-the-key-000000") === published,
    );
    expect(guessed).toBeUndefined();
    expect(fingerprintOf(values, {}, "another-key-".repeat(3))).not.toBe(fingerprintOf(values));
  });

  it("orders bindings by code unit, not by locale: the same bindings give the same fingerprint anywhere", () => {
    const bindings = ["a_x", "A_Y", "ä", "Z", "_"].map((name) => ({
      type: "secret_text" as const,
      name,
      text: name,
    }));
    const forward = deploymentFingerprint(bindings, settings, KEY);
    expect(deploymentFingerprint([...bindings].reverse(), settings, KEY)).toBe(forward);
    const original = String.prototype.localeCompare;
    try {
      // A locale whose collation differs (da_DK sorts differently): the fingerprint must not move.
      String.prototype.localeCompare = function (other: string) {
        return -original.call(this, other);
      };
      expect(deploymentFingerprint(bindings, settings, KEY)).toBe(forward);
    } finally {
      String.prototype.localeCompare = original;
    }
  });

  it("gives each binding a short keyed digest that changes with its value only", () => {
    const digest = (text: string, name = "STRIPE_SECRET_KEY") => bindingDigest(KEY, { name, text });
    expect(digest("a")).toMatch(/^[0-9a-f]{16}$/);
    expect(digest("a")).toBe(digest("a"));
    expect(digest("b")).not.toBe(digest("a"));
    expect(digest("a", "OTHER")).not.toBe(digest("a"));
  });
});
