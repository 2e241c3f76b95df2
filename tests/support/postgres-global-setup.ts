/**
 * vitest global setup: one PostgreSQL server for every suite (see ./postgres.ts). Where none can be
 * started, database suites report SKIPPED with the reason; under CI that is a failure instead.
 */
import type { TestProject } from "vitest/node";
import { externalDatabase, type TestDatabaseSetup, ThrowawayCluster } from "./postgres";
import { skipLoudly } from "./skip";

declare module "vitest" {
  export interface ProvidedContext {
    postgres: TestDatabaseSetup;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.DATABASE_URL) {
    project.provide("postgres", { database: await externalDatabase(process.env.DATABASE_URL) });
    return () => undefined;
  }
  const started = await ThrowawayCluster.start();
  if ("skipped" in started) {
    skipLoudly("PostgreSQL suites", started.skipped);
    project.provide("postgres", started);
    return () => undefined;
  }
  project.provide("postgres", { database: started.database });
  return () => started.cluster.stop();
}
