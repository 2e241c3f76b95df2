/**
 * `tsx scripts/registry-pull-login.ts <digest reference>`: a pull-only login (10 minutes) for the image a
 * deploy pushed, so deploy.yml can generate the SBOM from that exact digest in the registry (no rebuild).
 * Writes `server`, `username` and `password` to $GITHUB_OUTPUT (or stdout), after `::add-mask::` for the
 * password. Credentials come from CLOUDFLARE_API_TOKEN, as for the program. Exit 2 for a bad argument.
 */
import { appendFileSync } from "node:fs";
import { DIGEST_REFERENCE, registryPullCredentials } from "../lib/cloudflare/registry";

const PULL_MINUTES = 10;

async function main(): Promise<number> {
  const [reference, ...extra] = process.argv.slice(2);
  const account = DIGEST_REFERENCE.exec(reference ?? "")?.[1];
  if (!account || extra.length > 0) {
    console.error(
      `registry-pull-login: expected one argument, the deployed image's digest reference (registry.cloudflare.com/<account>/<repository>@sha256:<64 hex>), got ${JSON.stringify(process.argv.slice(2).join(" "))}`,
    );
    return 2;
  }
  const login = await registryPullCredentials(account, PULL_MINUTES, "the SBOM's pull login");
  console.log(`::add-mask::${login.password}`);
  const lines = `server=${login.server}\nusername=${login.username}\npassword=${login.password}\n`;
  if (process.env.GITHUB_OUTPUT) appendFileSync(process.env.GITHUB_OUTPUT, lines);
  else process.stdout.write(lines);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`registry-pull-login: ${(error as Error).message}`);
    process.exit(1);
  },
);
