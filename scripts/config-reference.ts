/**
 * `pnpm config:reference`: rewrites Pulumi.yaml's `config:` block and the config reference in
 * docs/configuration.md
 * from the schema in lib/config.ts. The tests fail when either is out of date.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseDocument } from "yaml";
import {
  configReferenceMarkdown,
  pulumiConfigDeclarations,
  REFERENCE_BEGIN,
  REFERENCE_END,
} from "../lib/config-reference";

const ROOT = resolve(__dirname, "..");

function rewritePulumiYaml(): void {
  const file = resolve(ROOT, "Pulumi.yaml");
  const document = parseDocument(readFileSync(file, "utf8"));
  document.set("config", pulumiConfigDeclarations());
  writeFileSync(file, document.toString({ lineWidth: 0 }));
}

const REFERENCE_FILE = "docs/configuration.md";

function rewriteReference(): void {
  const file = resolve(ROOT, REFERENCE_FILE);
  const text = readFileSync(file, "utf8");
  const begin = text.indexOf(REFERENCE_BEGIN);
  const end = text.indexOf(REFERENCE_END);
  if (begin < 0 || end < begin)
    throw new Error(`${REFERENCE_FILE}: add the markers ${REFERENCE_BEGIN} and ${REFERENCE_END}`);
  writeFileSync(
    file,
    text.slice(0, begin) + configReferenceMarkdown() + text.slice(end + REFERENCE_END.length),
  );
}

rewritePulumiYaml();
rewriteReference();
console.log(`config reference: Pulumi.yaml and ${REFERENCE_FILE} rewritten from lib/config.ts`);
