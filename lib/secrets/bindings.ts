/**
 * Pure mapping from the secrets manifest plus resolved values to what each target receives: GitHub
 * Environment secrets, and the Worker's bindings that the container sees (the secret hop, whose names
 * are fixed in ./container-contract.ts and read by infra/docker/app_supervisor.py).
 */ import type { SecretEntry } from "../config";
import {
  type ContainerSecretLayout,
  FILE_BINDING_PREFIX,
  SECRET_FILES_DIR,
  SECRET_MANIFEST_BINDING,
} from "./container-contract";

export const GITHUB_SECRET_LIMIT_BYTES = 48 * 1024;
/** Cloudflare documents about 5 KB per Worker secret binding. */
export const WORKER_BINDING_LIMIT_BYTES = 5 * 1024;

export interface WorkerBinding {
  type: "secret_text" | "plain_text";
  name: string;
  text: string;
}

export interface GithubSecretTarget {
  /** The manifest name, which keys the resolved values. */
  name: string;
  /** Upper case: GitHub stores names that way and compares them ignoring case. */
  secretName: string;
}

type Values = Readonly<Record<string, string>>;

export function fileBindingName(entry: Pick<SecretEntry, "name">): string {
  return `${FILE_BINDING_PREFIX}${entry.name}`;
}

export function githubSecretTargets(manifest: readonly SecretEntry[]): GithubSecretTarget[] {
  return manifest
    .filter((entry) => entry.targets.includes("github"))
    .map((entry) => ({ name: entry.name, secretName: entry.name.toUpperCase() }));
}

export function containerSecretLayout(manifest: readonly SecretEntry[]): ContainerSecretLayout {
  const layout: ContainerSecretLayout = { env: {}, files: {} };
  for (const entry of manifest.filter((candidate) => candidate.targets.includes("container"))) {
    if (entry.kind === "env") layout.env[entry.name] = entry.scope;
    else
      layout.files[fileBindingName(entry)] = {
        path: `${SECRET_FILES_DIR}/${entry.fileName}`,
        scope: entry.scope,
      };
  }
  return layout;
}

/**
 * The container's Worker bindings by name and type, known from the manifest alone (before any value is
 * read), in the order of workerSecretBindings: one secret_text per container secret, then the layout.
 */
export function workerBindingSlots(manifest: readonly SecretEntry[]): Pick<WorkerBinding, "type" | "name">[] {
  return [
    ...manifest
      .filter((entry) => entry.targets.includes("container"))
      .map((entry) => ({
        type: "secret_text" as const,
        name: entry.kind === "env" ? entry.name : fileBindingName(entry),
      })),
    { type: "plain_text", name: SECRET_MANIFEST_BINDING },
  ];
}

/** One secret_text binding per container secret, plus the plain-text layout the supervisor reads. */
export function workerSecretBindings(manifest: readonly SecretEntry[], values: Values): WorkerBinding[] {
  const secrets = manifest
    .filter((entry) => entry.targets.includes("container"))
    .map((entry): WorkerBinding => {
      const value = values[entry.name];
      return entry.kind === "env"
        ? { type: "secret_text", name: entry.name, text: value }
        : {
            type: "secret_text",
            name: fileBindingName(entry),
            text: Buffer.from(value, "utf8").toString("base64"),
          };
    });
  const layout: WorkerBinding = {
    type: "plain_text",
    name: SECRET_MANIFEST_BINDING,
    text: JSON.stringify(containerSecretLayout(manifest)),
  };
  return [...secrets, layout];
}

/**
 * Problems with values that only show once they are known. Values too big for a target fail the run
 * with the secret's name; nothing is split across bindings (one binding per secret keeps rotation exact).
 */
export function secretSizeProblems(manifest: readonly SecretEntry[], values: Values): string[] {
  const problems: string[] = [];
  for (const entry of manifest) {
    const value = values[entry.name];
    const bytes = Buffer.byteLength(value, "utf8");
    if (entry.targets.includes("github") && bytes > GITHUB_SECRET_LIMIT_BYTES) {
      problems.push(
        `${entry.name}: is ${bytes} bytes; a GitHub Environment secret holds at most 48 KB (49152 bytes)`,
      );
    }
    if (entry.targets.includes("container")) {
      const bindingBytes = entry.kind === "file" ? Math.ceil(bytes / 3) * 4 : bytes;
      if (bindingBytes > WORKER_BINDING_LIMIT_BYTES) {
        const how = entry.kind === "file" ? " once base64-encoded for the Worker binding" : "";
        problems.push(
          `${entry.name}: is ${bindingBytes} bytes${how}; a Worker secret binding holds about 5 KB (${WORKER_BINDING_LIMIT_BYTES} bytes): shrink it or keep it out of the container`,
        );
      }
    }
  }
  return problems;
}
