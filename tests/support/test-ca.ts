/**
 * A throwaway certificate authority made with the openssl CLI: it stands in for a private root such as
 * Supabase's, which Node's trust store does not hold. Keys are P-256 and live one day.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface CertificateAuthority {
  /** The root certificate, PEM: what database.caReference holds. */
  certificate: string;
  /** Issues a server certificate for these DNS names, signed by this root. */
  issue(names: string[]): { certificate: string; key: string };
}

const KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function certificateAuthority(commonName: string): CertificateAuthority {
  const dir = mkdtempSync(join(tmpdir(), "test-ca-"));
  const at = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: "pipe" });
  openssl(
    "req",
    "-x509",
    ...KEY,
    "-keyout",
    at("ca.key"),
    "-out",
    at("ca.crt"),
    "-days",
    "1",
    "-subj",
    `/CN=${commonName}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  );
  let issued = 0;
  return {
    certificate: readFileSync(at("ca.crt"), "utf8"),
    issue(names) {
      const base = at(`server-${++issued}`);
      writeFileSync(`${base}.ext`, `subjectAltName=${names.map((name) => `DNS:${name}`).join(",")}\n`);
      openssl("req", ...KEY, "-keyout", `${base}.key`, "-out", `${base}.csr`, "-subj", `/CN=${names[0]}`);
      openssl(
        "x509",
        "-req",
        "-in",
        `${base}.csr`,
        "-CA",
        at("ca.crt"),
        "-CAkey",
        at("ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        `${base}.ext`,
        "-out",
        `${base}.crt`,
      );
      return { certificate: readFileSync(`${base}.crt`, "utf8"), key: readFileSync(`${base}.key`, "utf8") };
    },
  };
}
