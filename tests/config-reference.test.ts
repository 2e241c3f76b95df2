import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SETTINGS } from "../lib/config";
import { configReferenceMarkdown, pulumiConfigDeclarations } from "../lib/config-reference";
import { readStackFile } from "../lib/plan/stack-file";
import { REPO_ROOT } from "./support/alpha";

const read = (file: string) => readFileSync(join(REPO_ROOT, file), "utf8");

describe("config reference (run `pnpm config:reference` when these fail)", () => {
  it("Pulumi.yaml declares every setting with the schema's type and description", () => {
    const project = parse(read("Pulumi.yaml"));
    expect(project.config).toEqual(pulumiConfigDeclarations());
    expect(Object.keys(project.config)).toHaveLength(Object.keys(SETTINGS).length);
  });

  it("Pulumi.yaml quotes each dotted key as one property-path segment, as the CLI reads declared keys", () => {
    const declared = Object.keys(parse(read("Pulumi.yaml")).config);
    expect(declared).toContain('["cloudflare.accountId"]');
    expect(declared).toContain("secrets");
    expect(declared.filter((key) => key.includes(".") && !/^\["[^"]+"\]$/.test(key))).toEqual([]);
  });

  it("docs/configuration.md's config reference is the one the schema renders", () => {
    expect(read("docs/configuration.md")).toContain(configReferenceMarkdown());
  });

  it("Pulumi.alpha.yaml holds no secure: values, so operators can read it whole", () => {
    expect(readStackFile(REPO_ROOT, "alpha").secretKeys).toEqual([]);
  });

  it("the project loads index.ts transpile-only: the tsconfig Pulumi.yaml names sets noCheck", () => {
    const { runtime } = parse(read("Pulumi.yaml"));
    expect(runtime).toMatchObject({ name: "nodejs", options: { typescript: true, packagemanager: "pnpm" } });
    const tsconfig = JSON.parse(read(runtime.options.tsconfig));
    expect(tsconfig.compilerOptions.noCheck).toBe(true);
  });
});
