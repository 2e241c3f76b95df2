import { defineConfig } from "vitest/config";

// `pnpm test:engine`: the real Pulumi CLI and engine (see tests/engine/setup.ts and scripts/install-pulumi.sh).
export default defineConfig({
  test: {
    pool: "forks",
    include: ["tests/engine/**/*.test.ts"],
    // One file at a time: the fault suite measures seconds against 1-2 s limits, which a second engine
    // suite competing for our two cores would blur.
    fileParallelism: false,
    // Each engine run starts the CLI and a provider process per dynamic provider.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    globalSetup: ["./tests/support/postgres-global-setup.ts", "./tests/engine/setup.ts"],
    reporters: ["default", "./tests/support/summary-reporter.ts"],
  },
});
