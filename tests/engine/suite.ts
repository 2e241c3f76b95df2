/**
 * What every engine suite that needs PostgreSQL checks first: the suite's server (postgres-global-setup.ts)
 * and the CLI (setup.ts). `missing` is why the suite cannot run, for its SKIPPED line; under CI those setups
 * fail the run instead.
 */
import { inject } from "vitest";
import { engineMissing } from "./harness";

const setup = inject("postgres");
export const database = "database" in setup ? setup.database : undefined;
export const missing = engineMissing() ?? (database ? undefined : "no PostgreSQL server");
