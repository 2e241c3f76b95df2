/**
 * A stand-in for Cloudflare's image registry (registry.cloudflare.com), the subset of the OCI distribution
 * API that `wrangler containers images list/delete` uses (cloudflare/workers-sdk
 * packages/wrangler/src/containers/images.ts):
 *   GET    /v2/_catalog?tags=true                  -> { repositories: { "<account>/<image>": [tags] } }
 *   HEAD   /v2/<account>/<image>/manifests/<tag>   -> Docker-Content-Digest
 *   DELETE /v2/<account>/<image>/manifests/<tag>   -> 202
 * Every request needs Basic auth `v1:<password>` with a password the Cloudflare API stand-in issued
 * (credentials are short-lived and minted by the API; an unknown one is 401, as the registry answers).
 */
import { createHash } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeRegistry {
  url: string;
  /** Tags by repository, "<account>/<image>". */
  repositories: Map<string, string[]>;
  deleted: string[];
  close(): Promise<void>;
}

export async function startFakeRegistry(issuedPasswords: () => string[]): Promise<FakeRegistry> {
  const registry: FakeRegistry = { url: "", repositories: new Map(), deleted: [], close: async () => {} };
  const server = createServer((request, response) => {
    const auth = Buffer.from((request.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString(
      "utf8",
    );
    const [user, password] = auth.split(":");
    if (user !== "v1" || !issuedPasswords().includes(password ?? "")) {
      response.writeHead(401, { "www-authenticate": 'Basic realm="registry.cloudflare.com"' }).end();
      return;
    }
    const url = new URL(request.url ?? "/", "http://registry");
    if (request.method === "GET" && url.pathname === "/v2/_catalog") {
      response.writeHead(200, { "content-type": "application/json" });
      response.end(JSON.stringify({ repositories: Object.fromEntries(registry.repositories) }));
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    const tags = manifest ? registry.repositories.get(manifest[1]) : undefined;
    if (!manifest || !tags?.includes(manifest[2])) {
      response.writeHead(404).end();
      return;
    }
    const digest = `sha256:${createHash("sha256").update(`${manifest[1]}:${manifest[2]}`).digest("hex")}`;
    if (request.method === "HEAD") {
      response.writeHead(200, { "docker-content-digest": digest }).end();
      return;
    }
    if (request.method === "DELETE") {
      registry.repositories.set(
        manifest[1],
        tags.filter((tag) => tag !== manifest[2]),
      );
      registry.deleted.push(`${manifest[1]}:${manifest[2]}`);
      response.writeHead(202).end();
      return;
    }
    response.writeHead(405).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  registry.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  registry.close = () => new Promise((resolve) => server.close(() => resolve()));
  return registry;
}
