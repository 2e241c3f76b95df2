/** Which vaults hold what: deploy credentials must not share a vault with what PR previews read. */
import type { SecretEntry } from "../config";

/** The vault a reference names, as written (a title or an id), compared ignoring case. */
export const vaultName = (reference: string) => reference.split("/")[2]?.toLowerCase() ?? "";

/**
 * Deploy credentials (GitHub-only secrets, the deploy database URL, the seal key) must sit in a vault of
 * their own: a PR preview's 1Password service account reads the vaults of what a preview needs (container
 * secrets, the digest key, the database CA), and must read no deploy credential. `vaultOf` says which vault
 * a reference is in: by the name written (config validation), or by 1Password's vault id (an update, which
 * learns the ids in its read), so that a vault written by its id in one reference and by its title in
 * another is still one vault.
 */
export function deployCredentialVaultProblems(
  config: {
    secrets: SecretEntry[];
    "database.deployUrlReference": string;
    "deploy.digestKeyReference": string;
    "deploy.sealKeyReference": string;
    "database.caReference": string;
  },
  vaultOf: (reference: string) => string = vaultName,
): { path: (string | number)[]; message: string }[] {
  const previewReads = new Map<string, { what: string; reference: string }>();
  const readByPreview = (what: string, reference: string) => {
    if (reference !== "" && !previewReads.has(vaultOf(reference)))
      previewReads.set(vaultOf(reference), { what, reference });
  };
  for (const entry of config.secrets.filter(({ targets }) => targets.includes("container")))
    readByPreview(entry.name, entry.reference);
  readByPreview("deploy.digestKeyReference", config["deploy.digestKeyReference"]);
  readByPreview("database.caReference", config["database.caReference"]);
  const credentials: { path: (string | number)[]; what: string; reference: string }[] = [
    {
      path: ["database.deployUrlReference"],
      what: "the deploy database URL",
      reference: config["database.deployUrlReference"],
    },
    {
      path: ["deploy.sealKeyReference"],
      what: "the GitHub seal key",
      reference: config["deploy.sealKeyReference"],
    },
    ...config.secrets.flatMap((entry, index) =>
      !entry.targets.includes("github") || entry.targets.includes("container")
        ? []
        : [
            {
              path: ["secrets", index, "reference"],
              what: `${entry.name} (GitHub only)`,
              reference: entry.reference,
            },
          ],
    ),
  ];
  return credentials.flatMap(({ path, what, reference }) => {
    const shared = previewReads.get(vaultOf(reference));
    if (shared === undefined) return [];
    const [written, sharedWritten] = [vaultName(reference), vaultName(shared.reference)];
    const spelled =
      written === sharedWritten ? "" : ` (written ${sharedWritten} there; 1Password says both are one vault)`;
    return [
      {
        path,
        message: `${what} is a deploy credential, but its vault ${written} also holds ${shared.what}${spelled}, which PR previews read; move it to a vault only the deploy's service account reads (e.g. ${written}-deploy)`,
      },
    ];
  });
}
