import { defineConfig } from "vitest/config";

// `pnpm test:commands`: every command the README documents, on a fresh checkout (tests/commands/).
export default defineConfig({
  test: {
    pool: "forks",
    include: ["tests/commands/**/*.test.ts"],
    testTimeout: 600_000,
    hookTimeout: 900_000,
    reporters: ["default", "./tests/support/summary-reporter.ts"],
  },
});
