/** How a setting, or a place inside one, is named in messages: Pulumi's own spelling. */

export const PROJECT = "spectral-infra";

/**
 * Pulumi's own spelling of a path inside a key, with the secret's name where it has one, so that an
 * operator finds the entry without counting: `secrets[10] (LD_PRELOAD).name`.
 */
export function pulumiPath(path: readonly PropertyKey[], values: Record<string, unknown>): string {
  const [key, ...rest] = path;
  const named = (part: PropertyKey, index: number) => {
    const name = key === "secrets" && index === 0 ? valueAt(values, ["secrets", part, "name"]) : undefined;
    return typeof name === "string" && name !== "" ? ` (${name})` : "";
  };
  return `${PROJECT}:${String(key)}${rest.map((part, index) => (typeof part === "number" ? `[${part}]${named(part, index)}` : `.${String(part)}`)).join("")}`;
}

export function valueAt(values: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, part) =>
      node !== null && typeof node === "object" ? (node as Record<PropertyKey, unknown>)[part] : undefined,
    values,
  );
}

/** The same problems, each as one line naming its setting (`spectral-infra:secrets[8] (NAME).reference: ...`). */
export function describeProblems(
  problems: { path: (string | number)[]; message: string }[],
  values: Record<string, unknown>,
): string[] {
  return problems.map(({ path, message }) => `${pulumiPath(path, values)}: ${message}`);
}
