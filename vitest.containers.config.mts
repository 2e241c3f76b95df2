import { defineConfig } from "vitest/config";

// `pnpm test:containers`: real image builds and container runs (see tests/containers/setup.ts).
export default defineConfig({
  test: {
    pool: "forks",
    include: ["tests/containers/**/*.test.ts"],
    testTimeout: 120_000,
    // A cold run builds the stand-in bases (about a minute each) and five images.
    hookTimeout: 900_000,
    globalSetup: ["./tests/containers/setup.ts"],
    reporters: ["default", "./tests/support/summary-reporter.ts"],
  },
});
