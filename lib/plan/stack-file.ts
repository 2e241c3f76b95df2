/**
 * Reads `Pulumi.<stack>.yaml` exactly as the Pulumi CLI (v3.274.1) does, into the flat string map the
 * engine hands a program. The engine tests run the real CLI over the same stack files and compare.
 *
 * What the CLI does, and where (pulumi/pulumi sdk/go/common, gopkg.in/yaml.v3 v3.0.1):
 * - Top-level keys are those of `workspace.ProjectStack`: secretsprovider, encryptedkey, encryptionsalt,
 *   config, environment. Any other key is ignored (yaml.v3 decodes non-strictly); we report it as a notice.
 * - A config key without a namespace gets the project's (`workspace/loaders.go`,
 *   stackConfigNamespacedWithProject); a key is `<namespace>:<name>` (`resource/config/key.go`, ParseKey).
 * - Plain scalars resolve as yaml.v3 resolves them (`resolve.go`): `0123` is octal (83), `0x1F` hex,
 *   `1_000` an int, `2026-11-01` a timestamp; quoted and block scalars are strings.
 * - Values become strings as `resource/config/object.go` MarshalString does: bools and numbers as JSON,
 *   timestamps as Go's time.String() ("2026-11-01 00:00:00 +0000 UTC"), lists and maps as JSON (Go's
 *   encoding/json: sorted keys, HTML-safe escapes), `{secure: ...}` as a secret.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { isAlias, isMap, isScalar, isSeq, type Node, parseDocument, type Scalar } from "yaml";
import { PROJECT } from "../config";

export interface StackFileConfig {
  config: Record<string, string>;
  /** Keys stored as `secure:` values; the offline plan cannot decrypt them and passes a placeholder. */
  secretKeys: string[];
  /** Things the CLI accepts silently that an operator should still hear about. */
  notices: string[];
}

export const SECRET_PLACEHOLDER = "[secret]";

/** The top-level keys of a stack file (`workspace.ProjectStack`). */
const STACK_FILE_KEYS = ["secretsprovider", "encryptedkey", "encryptionsalt", "config", "environment"];

export class StackFileError extends Error {}

export function stackFilePath(projectDir: string, stack: string): string {
  return join(projectDir, `Pulumi.${stack}.yaml`);
}

/** A YAML value as yaml.v3 decodes it into `any`. Ints are bigint: int64 and uint64 exceed JS numbers. */
type GoValue =
  | null
  | boolean
  | bigint
  | number
  | string
  | { timestamp: string }
  | { secure: string }
  | GoValue[]
  | Map<string, GoValue>;

export function readStackFile(projectDir: string, stack: string, project = PROJECT): StackFileConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(stack)) {
    throw new StackFileError(
      `--stack ${JSON.stringify(stack)}: a stack name has letters, digits, '.', '_' and '-' only`,
    );
  }
  const file = stackFilePath(projectDir, stack);
  if (!existsSync(file)) {
    throw new StackFileError(`${file}: no such stack file; create it or pass --stack with an existing stack`);
  }
  try {
    return parseStackFile(readFileSync(file, "utf8"), project, projectDefaults(projectDir, project));
  } catch (error) {
    if (error instanceof StackFileError) throw new StackFileError(`${file}: ${error.message}`);
    throw error;
  }
}

/**
 * The defaults Pulumi.yaml declares, as the CLI applies them to keys a stack leaves out
 * (pkg/workspace/config.go mergeConfig, createConfigValue: scalars as text, the rest as JSON). A declared
 * key is a property path; ours are single quoted segments, `["cloudflare.workersDev"]`.
 */
export function projectDefaults(projectDir: string, project = PROJECT): Record<string, string> {
  const declared = (
    parseDocument(readFileSync(join(projectDir, "Pulumi.yaml"), "utf8")).toJS() as {
      config?: Record<string, { default?: unknown }>;
    }
  ).config;
  const defaults: Record<string, string> = {};
  for (const [key, declaration] of Object.entries(declared ?? {})) {
    if (declaration?.default === undefined) continue;
    const name = /^\["(.+)"\]$/.exec(key)?.[1] ?? key;
    const value = declaration.default;
    defaults[name.includes(":") ? name : `${project}:${name}`] =
      typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
  }
  return defaults;
}

/** The text of a stack file, read as the CLI reads it, with the project's defaults for keys it leaves out. */
export function parseStackFile(
  text: string,
  project = PROJECT,
  defaults: Record<string, string> = {},
): StackFileConfig {
  const document = parseDocument(text.replace(/^\uFEFF/, ""), { schema: "failsafe", uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new StackFileError(`is not valid YAML: ${document.errors[0].message.split("\n")[0]}`);
  }
  const top = goValue(document.contents as Node | null, document);
  if (top === null) return { config: { ...defaults }, secretKeys: [], notices: [] };
  if (!(top instanceof Map)) throw new StackFileError("must be a map of stack settings (config: ...)");

  const notices = [...top.keys()]
    .filter((key) => !STACK_FILE_KEYS.includes(key))
    .map(
      (key) =>
        `'${key}' is not a stack file setting; Pulumi ignores it (known: ${STACK_FILE_KEYS.join(", ")})`,
    );
  if (top.get("environment") !== undefined && top.get("environment") !== null) {
    throw new StackFileError(
      "'environment' imports Pulumi ESC environments, which the offline plan cannot read; move those values into config",
    );
  }
  const raw = top.get("config") ?? null;
  if (raw !== null && !(raw instanceof Map))
    throw new StackFileError("'config' must be a map of keys to values");

  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  for (const [rawKey, value] of raw ?? []) {
    const key = configKey(rawKey.includes(":") ? rawKey : `${project}:${rawKey}`);
    // The CLI keeps whichever of the two its map iteration meets last: refuse rather than guess.
    if (key in config)
      throw new StackFileError(`config key '${key}' is set twice (with and without its namespace)`);
    if (value === null) notices.push(`'${key}' has no value; Pulumi reads it as "" (write "" to say so)`);
    if (isSecure(value)) {
      secretKeys.push(key);
      config[key] = SECRET_PLACEHOLDER;
    } else {
      config[key] = marshalString(value, key);
    }
  }
  return { config: { ...defaults, ...config }, secretKeys, notices };
}

/** `resource/config/key.go` ParseKey: `<namespace>:<name>`, or the legacy `<namespace>:config:<name>`. */
function configKey(key: string): string {
  const parts = key.split(":");
  if (parts.length === 2) return key;
  if (parts.length === 3 && parts[1] === "config" && parts[0] && parts[2]) return `${parts[0]}:${parts[2]}`;
  throw new StackFileError(
    `config key '${key}' is not of the form <namespace>:<name> (configuration keys hold one ':')`,
  );
}

function isSecure(value: GoValue): value is { secure: string } {
  return typeof value === "object" && value !== null && "secure" in value;
}

/** `object.MarshalString`: scalars as text, everything else as JSON; an empty value is "" (with a warning). */
function marshalString(value: GoValue, key: string): string {
  if (value === null) return "";
  if (typeof value === "string") return value;
  if (value !== null && typeof value === "object" && "timestamp" in value) return value.timestamp;
  return goJson(value, key);
}

/** Go's encoding/json over a decoded value: map keys sorted, <, > and & escaped, no NaN or Inf. */
function goJson(value: GoValue, key: string): string {
  if (value === null) return "null";
  if (typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new StackFileError(`config key '${key}': ${value} cannot be stored`);
    return String(value);
  }
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[<>&\u2028\u2029]/g,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (Array.isArray(value)) return `[${value.map((item) => goJson(item, key)).join(",")}]`;
  if (value instanceof Map) {
    const entries = [...value.keys()]
      .sort()
      .map((k) => `${goJson(k, key)}:${goJson(value.get(k) ?? null, key)}`);
    return `{${entries.join(",")}}`;
  }
  if ("timestamp" in value) return goJson(value.timestamp, key);
  return `{"secure":${goJson(value.secure, key)}}`;
}

function goValue(node: Node | null, document: ReturnType<typeof parseDocument>): GoValue {
  if (node === null || node === undefined) return null;
  if (isAlias(node)) return goValue(node.resolve(document) as Node, document);
  if (isMap(node)) {
    const map = new Map<string, GoValue>();
    for (const pair of node.items) {
      const key = goValue(pair.key as Node, document);
      const name = typeof key === "string" ? key : marshalString(key, "");
      map.set(name, goValue(pair.value as Node | null, document));
    }
    // `{secure: <ciphertext>}` is a secret (object.go, isSecureValue).
    if (map.size === 1 && typeof map.get("secure") === "string")
      return { secure: map.get("secure") as string };
    return map;
  }
  if (isSeq(node)) return node.items.map((item) => goValue(item as Node, document));
  if (isScalar(node)) return resolveScalar(node);
  throw new StackFileError(`holds a YAML node the CLI cannot read (${String(node)})`);
}

/** yaml.v3 `resolve`: quoted and block scalars are strings; a plain one is a null, bool, number or date. */
function resolveScalar(scalar: Scalar): GoValue {
  const text = String(scalar.value);
  if (scalar.type !== "PLAIN" || scalar.tag === "tag:yaml.org,2002:str") return text;
  if (scalar.tag === "!") return text; // a non-specific tag on a plain scalar keeps it a string
  if (scalar.tag === undefined) return resolvePlain(text);
  throw new StackFileError(`value '${text}' has an explicit YAML tag (${scalar.tag}); remove it`);
}

const NULLS = ["", "~", "null", "Null", "NULL"];
const TRUES = ["true", "True", "TRUE"];
const FALSES = ["false", "False", "FALSE"];
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const UINT64_MAX = 2n ** 64n - 1n;

export function resolvePlain(text: string): GoValue {
  if (NULLS.includes(text)) return null;
  if (TRUES.includes(text)) return true;
  if (FALSES.includes(text)) return false;
  if ([".nan", ".NaN", ".NAN"].includes(text)) return Number.NaN;
  if ([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"].includes(text)) return Number.POSITIVE_INFINITY;
  if (["-.inf", "-.Inf", "-.INF"].includes(text)) return Number.NEGATIVE_INFINITY;
  const first = text[0];
  if (first === ".") {
    return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) ? Number(text) : text;
  }
  if (!/[-+0-9]/.test(first)) return text;
  const timestamp = goTimestamp(text);
  if (timestamp !== undefined) return { timestamp };
  const plain = text.replaceAll("_", "");
  const integer = goParseInt(plain);
  if (integer !== undefined) return integer;
  if (YAML_STYLE_FLOAT.test(plain) && Number.isFinite(Number(plain))) return Number(plain);
  return text;
}

/** strconv.ParseInt(s, 0, 64), then ParseUint: sign, then 0x / 0o / 0b / 0 (octal) prefixes. */
function goParseInt(text: string): bigint | undefined {
  const match = /^([-+]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(text);
  if (!match) return undefined;
  const [, sign, digits] = match;
  const body = /^0[0-7]+$/.test(digits) ? `0o${digits.slice(1)}` : digits;
  const magnitude = BigInt(body);
  const value = sign === "-" ? -magnitude : magnitude;
  return value >= INT64_MIN && value <= UINT64_MAX ? value : undefined;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * yaml.v3 parseTimestamp with Go's time.Parse layouts "2006-1-2", "2006-1-2 15:4:5.999999999" and
 * "2006-1-2T15:4:5.999999999Z07:00", printed as Go's time.String() on a machine whose zone is UTC.
 */
function goTimestamp(text: string): string | undefined {
  const match =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:([Tt])|( ))(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?)?$/.exec(
      text,
    );
  if (!match) return undefined;
  const [, year, month, day, t, space, hour = "0", minute = "0", second = "0", fraction, zone] = match;
  if ((t && !zone) || (space && zone)) return undefined;
  const y = Number(year);
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const m = Number(month);
  if (m < 1 || m > 12) return undefined;
  const lastDay = m === 2 && leap ? 29 : DAYS_IN_MONTH[m - 1];
  if (Number(day) < 1 || Number(day) > lastDay) return undefined;
  if (Number(hour) > 23 || Number(minute) > 59 || Number(second) > 59) return undefined;
  const two = (n: string) => n.padStart(2, "0");
  const nanos = fraction ? `.${fraction}`.replace(/0+$/, "").replace(/\.$/, "") : "";
  const offset = zone && zone !== "Z" ? zone.replace(":", "") : "+0000";
  // Go names a zero offset after the local zone (UTC here) and leaves any other offset nameless.
  const zoneName = offset === "+0000" || offset === "-0000" ? "UTC" : offset;
  return `${year}-${two(month)}-${two(day)} ${two(hour)}:${two(minute)}:${two(second)}${nanos} ${offset === "-0000" ? "+0000" : offset} ${zoneName}`;
}
