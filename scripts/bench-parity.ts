/**
 * `pnpm bench:parity`: how closely the program asks Cloudflare what wrangler asks. In one run, on a throwaway
 * PostgreSQL cluster and fresh Cloudflare API and registry stand-ins, the program (real Pulumi engine) and
 * real wrangler carry out the same five intents (tests/engine/parity.ts). Goals: refused=0, unrouted=0,
 * unexplained_differences=0, prune_frees_layers=yes. The baseline of the request count is wrangler's own.
 * Prints `parity: wrangler_requests=N refused=0 unrouted=0 program_requests=M unexplained_differences=0
 * explained_differences=K prune_frees_layers=yes program_to_wrangler_requests=<M/N>`.
 */
import { engineMissing } from "../tests/engine/harness";
import {
  differences,
  INTENTS,
  recordProgram,
  recordWrangler,
  unexplained,
  WranglerStandIns,
} from "../tests/engine/parity";
import { EngineScenario } from "../tests/engine/scenario";
import { wranglerMissing } from "../tests/support/wrangler";

async function main(): Promise<void> {
  const missing = engineMissing() ?? wranglerMissing();
  if (missing) throw new Error(missing);
  const scenario = await EngineScenario.start();
  const standIns = await WranglerStandIns.start();
  try {
    const program = await recordProgram(scenario);
    const wrangler = await recordWrangler(standIns, program);
    const all = (recording: typeof program.recording) => INTENTS.flatMap((intent) => recording.api[intent]);
    const theirs = all(wrangler.recording);
    const ours = all(program.recording);
    const found = differences(program.recording, wrangler.recording);
    const open = unexplained(found).differences;
    const refused = theirs.filter((request) => (request.status ?? 0) >= 400 && request.status !== 404).length;
    const unrouted = theirs.filter((request) => request.code === 7003).length;
    const frees = program.layersFreed && wrangler.layersFreed ? "yes" : "no";
    console.log(
      `parity: wrangler_requests=${theirs.length} refused=${refused} unrouted=${unrouted} program_requests=${ours.length} unexplained_differences=${open.length} explained_differences=${found.length - open.length} prune_frees_layers=${frees} program_to_wrangler_requests=${(ours.length / theirs.length).toFixed(2)}`,
    );
    for (const difference of open) console.error(`unexplained: ${difference}`);
  } finally {
    await standIns.close();
    await scenario.close();
  }
}

main().catch((error: unknown) => {
  console.error(`bench:parity: ${(error as Error).message}`);
  process.exit(1);
});
