/**
 * Turns a recorded program run into the offline plan: a resource tree, outputs and counts per type.
 * Pure functions; secrets become `[secret]` and unknown values `[unknown]` before anything is shown.
 */
import { createHash } from "node:crypto";
import { isSecretValue, isUnknownValue, type RecordedResource } from "./mock-runtime";
import type { ProgramRun } from "./run-program";

export const SECRET_MARK = "[secret]";
export const UNKNOWN_MARK = "[unknown]";
const LONG_STRING = 160;

export interface PlannedResource {
  type: string;
  name: string;
  /** `type::name` of the parent resource; null for the stack. */
  parent: string | null;
  inputs: Record<string, unknown>;
}

export interface Plan {
  project: string;
  stack: string;
  resources: PlannedResource[];
  outputs: Record<string, unknown>;
  summary: { total: number; byType: Record<string, number> };
}

/** The same order on every machine, whatever its locale (localeCompare follows LANG). */
const byCodeUnit = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Replaces secrets and unknowns, and shortens long strings (bundles, certificates) to a digest. */
export function displayValue(value: unknown): unknown {
  if (isSecretValue(value)) return SECRET_MARK;
  if (isUnknownValue(value)) return UNKNOWN_MARK;
  if (typeof value === "string" && value.length > LONG_STRING) {
    const digest = createHash("sha256").update(value).digest("hex").slice(0, 12);
    return `${value.slice(0, 40)}… (${Buffer.byteLength(value)} bytes, sha256:${digest})`;
  }
  if (Array.isArray(value)) return value.map(displayValue);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value)
        // Engine bookkeeping such as __defaults is not an input anybody set.
        .filter(([key]) => !key.startsWith("__"))
        .sort(([a], [b]) => byCodeUnit(a, b))
        .map(([key, inner]) => [key, displayValue(inner)]),
    );
  }
  return value;
}

function resourceKey(resource: Pick<RecordedResource, "type" | "name">): string {
  return `${resource.type}::${resource.name}`;
}

export function buildPlan(project: string, stack: string, run: ProgramRun): Plan {
  const byUrn = new Map(run.resources.map((resource) => [resource.urn, resource]));
  const resources = run.resources.map((resource) => {
    const parent = resource.parent ? byUrn.get(resource.parent) : undefined;
    return {
      type: resource.type,
      name: resource.name,
      parent: parent ? resourceKey(parent) : null,
      inputs: displayValue(resource.inputs) as Record<string, unknown>,
    };
  });
  const byType: Record<string, number> = {};
  for (const resource of resources) byType[resource.type] = (byType[resource.type] ?? 0) + 1;
  return {
    project,
    stack,
    resources,
    outputs: displayValue(run.outputs) as Record<string, unknown>,
    summary: {
      total: resources.length,
      byType: Object.fromEntries(Object.entries(byType).sort(([a], [b]) => byCodeUnit(a, b))),
    },
  };
}

function inline(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}

/** `key: value` on one line; a list too long for one line gets a line per item (every binding shows). */
function inputLines(key: string, value: unknown): string[] {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  if (!Array.isArray(value) || text.length <= 100) return [`${key}: ${inline(value)}`];
  return [`${key}:`, ...value.map((item) => `  - ${inline(item)}`)];
}

export function renderPlanText(plan: Plan): string {
  const lines = [
    `Offline plan of ${plan.project}/${plan.stack}: mock runtime in preview mode, no credentials, no network.`,
    `Secret values show as ${SECRET_MARK}; values known only after deploy show as ${UNKNOWN_MARK}.`,
    "",
  ];
  const children = new Map<string | null, PlannedResource[]>();
  for (const resource of plan.resources) {
    const siblings = children.get(resource.parent) ?? [];
    siblings.push(resource);
    children.set(resource.parent, siblings);
  }
  const visit = (resource: PlannedResource, prefix: string, childPrefix: string) => {
    lines.push(`${prefix}${resource.type}  ${resource.name}`);
    const kids = children.get(resourceKey(resource)) ?? [];
    const bar = kids.length > 0 ? "│ " : "  ";
    for (const [key, value] of Object.entries(resource.inputs))
      for (const line of inputLines(key, value)) lines.push(`${childPrefix}${bar}  ${line}`);
    kids.forEach((kid, index) => {
      const last = index === kids.length - 1;
      visit(kid, `${childPrefix}${last ? "└─ " : "├─ "}`, `${childPrefix}${last ? "   " : "│  "}`);
    });
  };
  for (const root of children.get(null) ?? []) visit(root, "", "");
  lines.push("", "Outputs:");
  const outputs = Object.entries(plan.outputs);
  if (outputs.length === 0) lines.push("  (none)");
  for (const [key, value] of outputs) lines.push(`  ${key}: ${inline(value)}`);
  const counts = Object.entries(plan.summary.byType).map(([type, count]) => `${count} ${type}`);
  lines.push("", `Summary: ${plan.summary.total} resources: ${counts.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
