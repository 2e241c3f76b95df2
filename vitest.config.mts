import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Pulumi's closure serialization of dynamic providers needs every Node built-in, which worker threads lack.
    pool: "forks",
    include: ["tests/**/*.test.ts"],
    // Real image builds, the real Pulumi engine and the documented commands have their own runs:
    // `pnpm test:containers`, `pnpm test:engine` and `pnpm test:commands` (their vitest.*.config.mts).
    exclude: ["tests/containers/**", "tests/engine/**", "tests/commands/**", "**/node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    globalSetup: ["./tests/support/postgres-global-setup.ts"],
    reporters: ["default", "./tests/support/summary-reporter.ts"],
  },
});
