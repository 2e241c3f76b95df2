/**
 * Dynamic provider of DurableObjectMigrations: which Durable Object migrations the next Worker version
 * must carry. Cloudflare applies a version's migrations when it is deployed and records the last tag on
 * the Worker; sending an applied migration again fails. So, as wrangler does, a new version carries only
 * the migrations after the Worker's deployed tag, checked with `oldTag`.
 *
 * The answer is fixed when the resource is created and kept in state: it is replaced (and asks Cloudflare
 * again) exactly when the Worker version it belongs to is replaced, so a no-op update changes nothing.
 * Serialized by the engine: methods capture nothing and `require` what they use; the token comes from
 * CLOUDFLARE_API_TOKEN at call time.
 */
import type * as pulumi from "@pulumi/pulumi";

export interface DurableObjectMigration {
  tag: string;
  newSqliteClasses?: string[];
  deletedClasses?: string[];
  renamedClasses?: { from: string; to: string }[];
}

/** What WorkerVersion's `migrations` input takes. */
export interface PendingMigrations {
  oldTag?: string;
  newTag: string;
  steps: Omit<DurableObjectMigration, "tag">[];
}

export interface DurableObjectMigrationsInputs {
  accountId: string;
  scriptName: string;
  /** Every migration the Worker has had, oldest first. */
  history: DurableObjectMigration[];
  /** Hash of everything else the Worker version is made of: a change means a new version. */
  versionHash: string;
}

export interface DurableObjectMigrationsOutputs extends DurableObjectMigrationsInputs {
  /** The migrations the version must carry; null when none are pending. */
  pending: PendingMigrations | null;
}

export interface DurableObjectMigrationsProvider extends pulumi.dynamic.ResourceProvider {
  pending(history: DurableObjectMigration[], deployedTag: string | undefined): PendingMigrations | null;
}

export const durableObjectMigrationsProvider: DurableObjectMigrationsProvider = {
  /** Pure: the migrations after `deployedTag` (all of them for a Worker that has none yet). */
  pending(history: DurableObjectMigration[], deployedTag: string | undefined): PendingMigrations | null {
    const applied =
      deployedTag === undefined ? 0 : history.findIndex((migration) => migration.tag === deployedTag) + 1;
    if (applied === 0 && deployedTag !== undefined) {
      throw new Error(
        `the Worker's deployed Durable Object migration tag "${deployedTag}" is not in this program's migration history: it was changed outside this program; add the missing migrations to the history`,
      );
    }
    const remaining = history.slice(applied);
    if (remaining.length === 0) return null;
    return {
      ...(deployedTag === undefined ? {} : { oldTag: deployedTag }),
      newTag: remaining[remaining.length - 1].tag,
      steps: remaining.map(({ tag: _tag, ...step }) => step),
    };
  },

  async diff(_id: string, olds: DurableObjectMigrationsOutputs, news: DurableObjectMigrationsInputs) {
    const replaces = (["accountId", "scriptName", "history", "versionHash"] as const).filter(
      (key) => JSON.stringify(olds[key]) !== JSON.stringify(news[key]),
    );
    return { changes: replaces.length > 0, replaces, deleteBeforeReplace: false };
  },

  async create(inputs: DurableObjectMigrationsInputs) {
    const { default: Cloudflare } = require("cloudflare") as typeof import("cloudflare");
    const apiToken = process.env.CLOUDFLARE_API_TOKEN;
    if (!apiToken)
      throw new Error(
        "CLOUDFLARE_API_TOKEN is not set: export a Cloudflare API token with Workers Scripts edit rights",
      );
    const client = new Cloudflare({
      apiToken,
      baseURL: process.env.CLOUDFLARE_API_BASE_URL || undefined,
      maxRetries: 2,
    });
    let deployedTag: string | undefined;
    try {
      for await (const script of client.workers.scripts.list({ account_id: inputs.accountId })) {
        if (script.id === inputs.scriptName) deployedTag = script.migration_tag || undefined;
      }
    } catch (error) {
      const { status, errors } = error as { status?: number; errors?: { code: number; message: string }[] };
      const details = (errors ?? []).map((each) => `code ${each.code}: ${each.message}`).join("; ");
      throw new Error(
        `Cloudflare API ${status ?? "request failed"}${details ? ` [${details}]` : ""} while reading Worker ${inputs.scriptName}'s migration tag`,
      );
    }
    const outs: DurableObjectMigrationsOutputs = {
      ...inputs,
      pending: this.pending(inputs.history, deployedTag),
    };
    return { id: `${inputs.scriptName}@${inputs.versionHash.slice(0, 16)}`, outs };
  },
};
