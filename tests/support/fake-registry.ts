/**
 * A stand-in for Cloudflare's image registry (registry.cloudflare.com): the part of the OCI distribution API
 * that `wrangler containers images list/delete` and the program's image retention use (cloudflare/workers-sdk
 * containers-shared `images.ts`, wrangler 4.164):
 *   GET    /v2/_catalog?tags=true[&n=&last=]       -> { repositories: { "<account>/<image>": [tags] } }, paged
 *                                                    with `Link: <...?last=X&n=N>; rel="next"` (OCI
 *                                                    distribution spec, "Listing Repositories")
 *   HEAD   /v2/<account>/<image>/manifests/<tag>   -> Docker-Content-Digest
 *   DELETE /v2/<account>/<image>/manifests/<tag>   -> 202; the tag goes, its layers stay stored
 *   PUT    /v2/gc/layers                           -> 202; layers no manifest references are freed
 * Only the garbage collection frees storage toward the account's 50 GB cap (platform facts, "Deleting
 * images"): `storedBytes()` is what the cap counts. Every request needs Basic auth `v1:<password>` with a
 * password the Cloudflare API stand-in issued (an unknown one is 401). With `tls`, it serves HTTPS, as the
 * real registry does: wrangler only speaks HTTPS to it.
 */
import { createHash } from "node:crypto";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

export interface FakeRegistry {
  /** http(s)://<host>:<port> */
  url: string;
  /** Tags by repository, "<account>/<image>". */
  repositories: Map<string, string[]>;
  deleted: string[];
  /** Every authorized request, "METHOD /path?query", oldest first. */
  requests: string[];
  /** Catalog entries per page when the client does not ask (`n`). */
  catalogPageSize: number;
  /** Bytes of the layers still stored: what counts toward the 50 GB cap. */
  storedBytes(): number;
  /** Garbage collections run (PUT /v2/gc/layers). */
  collections: number;
  close(): Promise<void>;
}

/** Each tag's image has one layer of its own, of this size: enough to see what a collection frees. */
export const LAYER_BYTES = 50 * 1024 * 1024;

const digestOf = (repository: string, tag: string) =>
  `sha256:${createHash("sha256").update(`${repository}:${tag}`).digest("hex")}`;

export async function startFakeRegistry(
  issuedPasswords: () => string[],
  tls?: { certificate: string; key: string },
): Promise<FakeRegistry> {
  // Layers by digest; a tag's layer stays here after the tag is deleted, until a collection. Tests add tags
  // to `repositories` directly, so each tag's layer is recorded when the registry next looks.
  const layers = new Map<string, number>();
  const recordLayers = () => {
    for (const [repository, tags] of registry.repositories)
      for (const tag of tags)
        if (!layers.has(digestOf(repository, tag))) layers.set(digestOf(repository, tag), LAYER_BYTES);
  };
  const registry: FakeRegistry = {
    url: "",
    repositories: new Map(),
    deleted: [],
    requests: [],
    catalogPageSize: 100,
    storedBytes: () => {
      recordLayers();
      return [...layers.values()].reduce((sum, size) => sum + size, 0);
    },
    collections: 0,
    close: async () => {},
  };
  const referenced = () =>
    new Set(
      [...registry.repositories].flatMap(([repository, tags]) =>
        tags.map((tag) => digestOf(repository, tag)),
      ),
    );

  const catalog = (url: URL, response: ServerResponse) => {
    const size = Number(url.searchParams.get("n") ?? registry.catalogPageSize);
    const last = url.searchParams.get("last");
    const names = [...registry.repositories.keys()].sort();
    const from = last === null ? 0 : names.findIndex((name) => name > last);
    const page = from === -1 ? [] : names.slice(from, from + size);
    const more = from !== -1 && from + size < names.length;
    const next = new URL(url);
    next.searchParams.set("last", page.at(-1) ?? "");
    next.searchParams.set("n", String(size));
    response.writeHead(200, {
      "content-type": "application/json",
      ...(more ? { link: `<${next.pathname}${next.search}>; rel="next"` } : {}),
    });
    response.end(
      JSON.stringify({
        repositories: Object.fromEntries(page.map((name) => [name, registry.repositories.get(name)])),
      }),
    );
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const auth = Buffer.from((request.headers.authorization ?? "").replace(/^Basic /, ""), "base64").toString(
      "utf8",
    );
    const [user, password] = auth.split(":");
    if (user !== "v1" || !issuedPasswords().includes(password ?? "")) {
      response.writeHead(401, { "www-authenticate": 'Basic realm="registry.cloudflare.com"' }).end();
      return;
    }
    const url = new URL(request.url ?? "/", "http://registry");
    registry.requests.push(`${request.method} ${url.pathname}${url.search}`);
    if (request.method === "GET" && url.pathname === "/v2/_catalog") return catalog(url, response);
    if (request.method === "PUT" && url.pathname === "/v2/gc/layers") {
      recordLayers();
      const inUse = referenced();
      for (const digest of [...layers.keys()]) if (!inUse.has(digest)) layers.delete(digest);
      registry.collections += 1;
      response.writeHead(202).end();
      return;
    }
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    const tags = manifest ? registry.repositories.get(manifest[1]) : undefined;
    if (!manifest || !tags?.includes(manifest[2])) {
      response.writeHead(404).end();
      return;
    }
    const digest = digestOf(manifest[1], manifest[2]);
    if (request.method === "HEAD") {
      response.writeHead(200, { "docker-content-digest": digest }).end();
      return;
    }
    if (request.method === "DELETE") {
      recordLayers();
      registry.repositories.set(
        manifest[1],
        tags.filter((tag) => tag !== manifest[2]),
      );
      registry.deleted.push(`${manifest[1]}:${manifest[2]}`);
      response.writeHead(202).end();
      return;
    }
    response.writeHead(405).end();
  };
  const server = tls
    ? createHttpsServer({ cert: tls.certificate, key: tls.key }, handle)
    : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  registry.url = tls ? `https://localhost:${port}` : `http://127.0.0.1:${port}`;
  registry.close = () => new Promise((resolve) => server.close(() => resolve()));
  return registry;
}
