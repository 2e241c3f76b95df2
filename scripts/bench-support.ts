/**
 * Shared helpers of the `pnpm bench:*` scripts: whole-process wall time, medians, and the short mode.
 * `SPECTRAL_BENCH_SHORT=1` runs a bench with a small N on the same code path, so that a test can keep every
 * bench alive (tests/commands.test.ts) without waiting for a full measurement.
 */
import { type SpawnSyncOptions, spawnSync } from "node:child_process";

/** Wall time of one whole process in seconds; a failed run aborts the benchmark with its output. */
export function timeProcess(command: string, args: string[], options: SpawnSyncOptions = {}): number {
  const started = process.hrtime.bigint();
  const result = spawnSync(command, args, { ...options, encoding: "utf8" });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} failed (${result.status}):\n${result.stderr}`);
  }
  return seconds;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** How many times to repeat a measurement: `full`, or `short` under SPECTRAL_BENCH_SHORT=1. */
export function benchSize(full: number, short: number): number {
  return process.env.SPECTRAL_BENCH_SHORT === "1" ? short : full;
}
