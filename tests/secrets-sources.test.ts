import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuthExpiredError, RateLimitExceededError, type ResolveAllResponse } from "@1password/sdk";
import type * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../lib/config";
import { type OnePasswordApi, OnePasswordSecretSource } from "../lib/secrets/onepassword";
import { chooseSecretSource, resolveStackSecrets } from "../lib/secrets/resolve";
import {
  LocalFileSecretSource,
  PlaceholderSecretSource,
  type SecretSource,
  SecretSourceError,
} from "../lib/secrets/source";
import { alphaConfigWith } from "./support/alpha";
import { devStackEnv, recordRun } from "./support/record";
import { certificateAuthority } from "./support/test-ca";

/** Stands in for the SDK client behind our interface, answering with the SDK's own response types. */
function sdkDouble(answer: (references: string[]) => ResolveAllResponse | Promise<ResolveAllResponse>) {
  const calls: string[][] = [];
  const api: OnePasswordApi = {
    resolveAll: async (references) => {
      calls.push(references);
      return answer(references);
    },
    listVaults: async () => [],
  };
  return { calls, source: new OnePasswordSecretSource(async () => api) };
}

const found = (secret: string) => ({ content: { secret, itemId: "item-id", vaultId: "vault-id" } });

async function rejection(promise: Promise<unknown>): Promise<SecretSourceError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(SecretSourceError);
  return error as SecretSourceError;
}

describe("1Password source (SDK stand-in behind OnePasswordApi)", () => {
  it("resolves every reference in one resolveAll call, keyed by secret name, duplicates read once", async () => {
    const { calls, source } = sdkDouble((references) => ({
      individualResponses: Object.fromEntries(
        references.map((reference) => [reference, found(`v:${reference}`)]),
      ),
    }));
    const values = await source.resolve([
      { key: "A", reference: "op://v/a/f" },
      { key: "B", reference: "op://v/b/f" },
      { key: "CA_CERT", reference: "op://v/b/ca.crt" },
      { key: "ALSO_A", reference: "op://v/a/f" },
    ]);
    expect(calls).toEqual([["op://v/a/f", "op://v/b/f", "op://v/b/ca.crt"]]);
    expect(values).toEqual({
      A: "v:op://v/a/f",
      B: "v:op://v/b/f",
      CA_CERT: "v:op://v/b/ca.crt",
      ALSO_A: "v:op://v/a/f",
    });
  });

  it("lists every failing reference with the SDK's error type in one error", async () => {
    const { source } = sdkDouble(() => ({
      individualResponses: {
        "op://v/ok/f": found("fine"),
        "op://v/missing/f": { error: { type: "itemNotFound" } },
        "op://v/item/nofield": { error: { type: "fieldNotFound" } },
        "op://novault/i/f": { error: { type: "vaultNotFound" } },
        "op://v/bin/blob.png": { error: { type: "unsupportedFileFormat" } },
      },
    }));
    const error = await rejection(
      source.resolve([
        { key: "OK", reference: "op://v/ok/f" },
        { key: "MISSING", reference: "op://v/missing/f" },
        { key: "NOFIELD", reference: "op://v/item/nofield" },
        { key: "NOVAULT", reference: "op://novault/i/f" },
        { key: "BLOB", reference: "op://v/bin/blob.png" },
      ]),
    );
    expect(error.message.split("\n")).toEqual([
      "1Password could not resolve 4 reference(s):",
      "  MISSING (op://v/missing/f): itemNotFound: check the item name in the reference",
      "  NOFIELD (op://v/item/nofield): fieldNotFound: check the field (or file) name in the reference",
      "  NOVAULT (op://novault/i/f): vaultNotFound: check the vault name and that the service account can read it",
      "  BLOB (op://v/bin/blob.png): unsupportedFileFormat: 1Password resolves only text attachments by reference; store the file as text (for example base64)",
    ]);
    expect(error.message).not.toContain("fine");
  });

  it("turns RateLimitExceededError and AuthExpiredError into clear messages", async () => {
    const limited = sdkDouble(() => {
      throw new RateLimitExceededError("rate limit exceeded");
    });
    expect((await rejection(limited.source.resolve([{ key: "A", reference: "op://v/a/f" }]))).message).toBe(
      "1Password rate limit exceeded for this service account (a Business token allows 10,000 reads per hour); wait and re-run, or use a separate token for CI",
    );
    const expired = sdkDouble(() => {
      throw new AuthExpiredError("auth expired");
    });
    expect((await rejection(expired.source.resolve([{ key: "A", reference: "op://v/a/f" }]))).message).toBe(
      "1Password rejected the service-account token as expired or revoked; issue a new one and export it as OP_SERVICE_ACCOUNT_TOKEN",
    );
  });

  it("never echoes the service-account token in an error", async () => {
    const previous = process.env.OP_SERVICE_ACCOUNT_TOKEN;
    process.env.OP_SERVICE_ACCOUNT_TOKEN = "ops_very-secret-token";
    try {
      const source = new OnePasswordSecretSource(async () => {
        throw new Error("invalid token ops_very-secret-token for account");
      });
      const error = await rejection(source.resolve([{ key: "A", reference: "op://v/a/f" }]));
      expect(error.message).toBe(
        "1Password could not be reached or refused the request: invalid token [token] for account",
      );
    } finally {
      if (previous === undefined) delete process.env.OP_SERVICE_ACCOUNT_TOKEN;
      else process.env.OP_SERVICE_ACCOUNT_TOKEN = previous;
    }
  });

  it("asks for OP_SERVICE_ACCOUNT_TOKEN before touching the network", async () => {
    const previous = process.env.OP_SERVICE_ACCOUNT_TOKEN;
    delete process.env.OP_SERVICE_ACCOUNT_TOKEN;
    try {
      const error = await rejection(
        new OnePasswordSecretSource().resolve([{ key: "A", reference: "op://v/a/f" }]),
      );
      expect(error.message).toBe(
        "OP_SERVICE_ACCOUNT_TOKEN is not set: export a 1Password service-account token with read access to the stack's vault",
      );
    } finally {
      if (previous !== undefined) process.env.OP_SERVICE_ACCOUNT_TOKEN = previous;
    }
  });
});

describe("local file source", () => {
  const dir = mkdtempSync(join(tmpdir(), "secrets-local-"));

  it("reads NAME=value lines, multi-line values included", async () => {
    const file = join(dir, "ok.env");
    writeFileSync(file, 'A=alpha\nCERT="-----BEGIN-----\nabc\n-----END-----"\n');
    const values = await new LocalFileSecretSource(file).resolve([
      { key: "A", reference: "op://v/a/f" },
      { key: "CERT", reference: "op://v/c/f" },
    ]);
    expect(values).toEqual({ A: "alpha", CERT: "-----BEGIN-----\nabc\n-----END-----" });
  });

  it("names every missing secret and the file, without values", async () => {
    const file = join(dir, "partial.env");
    writeFileSync(file, "A=alpha-value\n");
    const error = await rejection(
      new LocalFileSecretSource(file).resolve([
        { key: "A", reference: "op://v/a/f" },
        { key: "B", reference: "op://v/b/f" },
        { key: "C", reference: "op://v/c/f" },
      ]),
    );
    expect(error.message).toBe(`${file}: has no value for B, C; add a NAME=value line for each`);
    expect((await rejection(new LocalFileSecretSource(join(dir, "absent.env")).resolve([]))).message).toBe(
      `${join(dir, "absent.env")}: cannot read the local secrets file (ENOENT); create it with one NAME=value line per secret`,
    );
  });
});

describe("choosing the source", () => {
  it("reads 1Password unless the stack opts into a local file; the shell cannot switch it (#15 item 1)", () => {
    expect(chooseSecretSource({ localSecretsFile: "", preview: false }, {}).label).toBe("1Password");
    const standIn = { CLOUDFLARE_API_BASE_URL: "http://127.0.0.1:8787/client/v4" };
    expect(chooseSecretSource({ localSecretsFile: "dev.env", preview: false }, standIn).label).toBe(
      "local file dev.env",
    );
    expect(() =>
      chooseSecretSource(
        { localSecretsFile: "", preview: false },
        { SPECTRAL_SECRET_SOURCE: "local:/tmp/x.env" },
      ),
    ).toThrow(
      'SPECTRAL_SECRET_SOURCE=local:/tmp/x.env: the only value is "placeholder", for previews; secrets come from 1Password, or from a local file only on a stack that opts in with: pulumi config set deploy.localSecretsFile <file>',
    );
  });

  it("refuses a local secrets file unless the Cloudflare API is a stand-in on loopback, in preview too (#21)", () => {
    const choose =
      (env: Record<string, string>, preview = false) =>
      () =>
        chooseSecretSource({ localSecretsFile: "dev.env", preview }, env);
    expect(choose({})).toThrow(
      "deploy.localSecretsFile is set (dev.env), but CLOUDFLARE_API_BASE_URL is not set, so the Cloudflare API is Cloudflare's own: a local secrets file is only for the stand-ins (pnpm standins). For a real account, remove it (pulumi config rm deploy.localSecretsFile) and read 1Password",
    );
    expect(choose({ CLOUDFLARE_API_BASE_URL: "https://api.cloudflare.com/client/v4" }, true)).toThrow(
      "CLOUDFLARE_API_BASE_URL is https://api.cloudflare.com/client/v4, not a stand-in on loopback",
    );
    expect(choose({ CLOUDFLARE_API_BASE_URL: "http://127.0.0.1.example.com/client/v4" })).toThrow(
      "not a stand-in on loopback",
    );
    for (const url of ["http://localhost:1/client/v4", "http://[::1]:1/client/v4", "http://127.0.0.2:1"])
      expect(choose({ CLOUDFLARE_API_BASE_URL: url })().label, url).toBe("local file dev.env");
  });

  it("gives placeholders to a preview and refuses them to an update (#15 item 1)", async () => {
    const env = { SPECTRAL_SECRET_SOURCE: "placeholder" };
    const placeholder = chooseSecretSource({ localSecretsFile: "dev.env", preview: true }, env);
    expect(placeholder).toBeInstanceOf(PlaceholderSecretSource);
    expect(await placeholder.resolve([{ key: "API_KEY", reference: "op://v/i/f" }])).toEqual({
      API_KEY: "placeholder-api_key",
    });
    for (const localSecretsFile of ["", "dev.env"]) {
      expect(() => chooseSecretSource({ localSecretsFile, preview: false }, env)).toThrow(
        "SPECTRAL_SECRET_SOURCE=placeholder: placeholder values are for previews only, and this is an update that would deploy them to every GitHub secret and Worker binding; unset SPECTRAL_SECRET_SOURCE",
      );
    }
  });

  it("stops an update with the placeholder source before any resource or API call (mock runtime, Cloudflare stand-in)", () => {
    const refused = recordRun({ ...devStackEnv(), SPECTRAL_SECRET_SOURCE: "placeholder" });
    expect(refused.status).toBe(1);
    expect(refused.stderr).toBe(
      "record-run: SPECTRAL_SECRET_SOURCE=placeholder: placeholder values are for previews only, and this is an update that would deploy them to every GitHub secret and Worker binding; unset SPECTRAL_SECRET_SOURCE\n",
    );
    const preview = recordRun({ SPECTRAL_SECRET_SOURCE: "placeholder", RECORD_PREVIEW: "true" });
    expect(preview.status).toBe(0);
    expect(preview.resources.length).toBeGreaterThan(10);
  });

  it("refuses each mistake in the file naming its line, all together, and never a value (#15 item 10)", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "secrets-strict-")), "broken.env");
    writeFileSync(
      file,
      [
        "# comment",
        "A=alpha-secret-1",
        "A=alpha-secret-2",
        "B=",
        "C=value#with-hash",
        "not a pair",
        'D="never closed',
        "",
      ].join("\n"),
    );
    const error = await rejection(
      new LocalFileSecretSource(file).resolve([{ key: "A", reference: "op://v/a/f" }]),
    );
    expect(error.message).toBe(
      [
        `${file}:3: A is set again (first on line 2)`,
        `${file}:4: B is empty; give it a value or remove the line`,
        `${file}:5: C has an unquoted '#'; quote the value ("...") if it belongs to it`,
        `${file}:6: is not a NAME=value line`,
        `${file}:7: D has an unterminated double quote`,
      ].join("\n"),
    );
    expect(error.message).not.toContain("alpha-secret");
  });

  it("round-trips values exactly: quotes, backslashes, newlines, '#' inside quotes", async () => {
    const tricky = {
      QUOTES: "say \"hi\" and 'bye'",
      BACKSLASH: "C:\\path\\n-not-a-newline",
      NEWLINES: "line one\nline two\n",
      HASH: "pa#ss word",
    };
    const quoted = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
    const file = join(mkdtempSync(join(tmpdir(), "secrets-strict-")), "tricky.env");
    writeFileSync(
      file,
      Object.entries(tricky)
        .map(([name, value]) => `${name}="${quoted(value)}"`)
        .join("\n"),
    );
    const values = await new LocalFileSecretSource(file).resolve(
      Object.keys(tricky).map((key) => ({ key, reference: "op://v/i/f" })),
    );
    expect(values).toEqual(tricky);
    writeFileSync(file, "SINGLE='raw \\n kept'\n");
    expect(
      await new LocalFileSecretSource(file).resolve([{ key: "SINGLE", reference: "op://v/i/f" }]),
    ).toEqual({
      SINGLE: "raw \\n kept",
    });
  });
});

describe("the deployment database's CA (#15 item 5)", () => {
  const withCa = (reference: string) =>
    parseStackConfig(alphaConfigWith({ "spectral-infra:database.caReference": reference }));
  /** Answers every request; the CA with `ca`. */
  const sourceAnswering = (ca: string) => {
    const requested: string[] = [];
    const source: SecretSource = {
      label: "test source",
      resolve: async (requests) => {
        requested.push(...requests.map(({ key }) => key));
        return Object.fromEntries(
          requests.map(({ key }) => [
            key,
            key === "DEPLOY_DATABASE_CA" ? ca : `value-of-${key.toLowerCase()}-0000000000000000`,
          ]),
        );
      },
    };
    return { source, requested };
  };
  const update = { preview: false };
  const unwrap = <T>(output: pulumi.Output<T>) => new Promise<T>((resolve) => output.apply(resolve));

  it("is read with the secrets only when the stack names one, and must be a PEM certificate", async () => {
    const none = sourceAnswering("");
    expect(await unwrap((await resolveStackSecrets(withCa(""), none.source, update)).databaseCa)).toBe("");
    expect(none.requested).not.toContain("DEPLOY_DATABASE_CA");

    const pem = certificateAuthority("Test Root").certificate;
    const named = sourceAnswering(pem);
    const reference = "op://spectral-alpha/supabase-root-ca/certificate";
    expect(
      await unwrap((await resolveStackSecrets(withCa(reference), named.source, update)).databaseCa),
    ).toBe(pem);
    expect(named.requested).toContain("DEPLOY_DATABASE_CA");

    await expect(
      resolveStackSecrets(withCa(reference), sourceAnswering("not a certificate").source, update),
    ).rejects.toThrow(
      "secrets from test source do not fit their targets:\n  DEPLOY_DATABASE_CA (database.caReference): is not a PEM certificate; the item must hold the CA's -----BEGIN CERTIFICATE----- text",
    );
    // Placeholders are not certificates, and a preview does not need one.
    await expect(
      resolveStackSecrets(withCa(reference), new PlaceholderSecretSource(), { preview: true }),
    ).resolves.toBeDefined();
  });
});

describe("vaults compared by identity, not spelling (#21): an update learns 1Password's vault ids in its read", () => {
  // Vault ids as 1Password has them: each vault has one id, and a reference may name it by title or by id.
  const VAULTS = [
    { id: "w3v5preview0000000000000000", title: "spectral-alpha" },
    { id: "k7q2deploy00000000000000000", title: "spectral-alpha-deploy" },
  ];
  const idOf = (reference: string) => {
    const written = reference.split("/")[2].toLowerCase();
    return VAULTS.find((vault) => vault.title === written || vault.id === written)?.id ?? "unknown";
  };
  /** The SDK stand-in, answering each reference with its vault's id, and counting the vault lists. */
  const onePassword = () => {
    const counted = { resolveAll: 0, listVaults: 0 };
    const api: OnePasswordApi = {
      resolveAll: async (references) => {
        counted.resolveAll++;
        return {
          individualResponses: Object.fromEntries(
            references.map((reference) => [
              reference,
              {
                content: {
                  secret: `value-of-${reference}-000000000000`,
                  itemId: "i",
                  vaultId: idOf(reference),
                },
              },
            ]),
          ),
        };
      },
      listVaults: async () => {
        counted.listVaults++;
        return VAULTS;
      },
    };
    return { counted, source: new OnePasswordSecretSource(async () => api) };
  };
  const alphaWith = (overrides: Record<string, string>) =>
    parseStackConfig(alphaConfigWith({ "spectral-infra:database.caReference": "", ...overrides }));

  it("refuses a deploy credential that names a preview's vault by its id, which the spelling check cannot see", async () => {
    const config = alphaWith({});
    const secrets = config.secrets.map((entry) =>
      entry.name === "CLOUDFLARE_API_TOKEN"
        ? { ...entry, reference: `op://${VAULTS[0].id}/cloudflare-deploy/credential` }
        : entry,
    );
    const { source } = onePassword();
    await expect(resolveStackSecrets({ ...config, secrets }, source, { preview: false })).rejects.toThrow(
      `spectral-infra:secrets[8] (CLOUDFLARE_API_TOKEN).reference: CLOUDFLARE_API_TOKEN (GitHub only) is a deploy credential, but its vault ${VAULTS[0].id} also holds API_DATABASE_URL (written spectral-alpha there; 1Password says both are one vault), which PR previews read`,
    );
  });

  it("costs no extra call when the read placed every vault, and at most one list of the vaults otherwise", async () => {
    const placed = onePassword();
    await resolveStackSecrets(alphaWith({}), placed.source, { preview: false });
    expect(placed.counted).toEqual({ resolveAll: 1, listVaults: 0 });
    // The deploy database URL is never read by the program, so its vault, written by id, needs the list.
    const listed = onePassword();
    const byId = alphaWith({
      "spectral-infra:database.deployUrlReference": `op://${VAULTS[0].id}/deploy-database/url`,
    });
    await expect(resolveStackSecrets(byId, listed.source, { preview: false })).rejects.toThrow(
      "spectral-infra:database.deployUrlReference: the deploy database URL is a deploy credential",
    );
    expect(listed.counted).toEqual({ resolveAll: 1, listVaults: 1 });
  });

  it("a preview reads no deploy credential, so it compares nothing and lists nothing", async () => {
    const preview = onePassword();
    await resolveStackSecrets(alphaWith({}), preview.source, { preview: true });
    expect(preview.counted).toEqual({ resolveAll: 1, listVaults: 0 });
  });
});
