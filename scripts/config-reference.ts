/**
 * `pnpm config:reference`: rewrites Pulumi.yaml's `config:` block and the README's config reference
 * from the schema in lib/config.ts. The tests fail when either is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import {
  configReferenceMarkdown,
  pulumiConfigDeclarations,
  README_BEGIN,
  README_END,
} from "../lib/config-reference";

const ROOT = resolve(__dirname, "..");

function rewritePulumiYaml(): void {
  const file = resolve(ROOT, "Pulumi.yaml");
  const document = parseDocument(readFileSync(file, "utf8"));
  document.set("config", pulumiConfigDeclarations());
  writeFileSync(file, document.toString({ lineWidth: 0 }));
}

function rewriteReadme(): void {
  const file = resolve(ROOT, "README.md");
  const text = readFileSync(file, "utf8");
  const begin = text.indexOf(README_BEGIN);
  const end = text.indexOf(README_END);
  if (begin < 0 || end < begin)
    throw new Error(`README.md: add the markers ${README_BEGIN} and ${README_END}`);
  writeFileSync(file, text.slice(0, begin) + configReferenceMarkdown() + text.slice(end + README_END.length));
}

rewritePulumiYaml();
rewriteReadme();
console.log("config reference: Pulumi.yaml and README.md rewritten from lib/config.ts");
