/**
 * `pnpm bench:plan`: wall time of the offline plan, `pnpm plan --stack alpha --json` as a whole process,
 * against a bare `node -e "require('@pulumi/pulumi')"` measured in the same run. Goal: ratio <= 3.
 * Prints one line: `plan: median_s=<m> node_baseline_s=<b> ratio=<m/b>`.
 */
import { resolve } from "node:path";
import { benchSize, median, timeProcess } from "./bench-support";

const ROOT = resolve(__dirname, "..");
const RUNS = benchSize(7, 2);

// Alternate the two so that machine noise lands on both alike.
const plan: number[] = [];
const baseline: number[] = [];
for (let run = 0; run < RUNS; run++) {
  plan.push(timeProcess("pnpm", ["--silent", "plan", "--stack", "alpha", "--json"], { cwd: ROOT }));
  baseline.push(timeProcess(process.execPath, ["-e", "require('@pulumi/pulumi')"], { cwd: ROOT }));
}
const m = median(plan);
const b = median(baseline);
console.log(`plan: median_s=${m.toFixed(3)} node_baseline_s=${b.toFixed(3)} ratio=${(m / b).toFixed(2)}`);
