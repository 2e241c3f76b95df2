// Serves one HTML page at / and a JSON /health (package version plus the image's version.json), the
// smallest front end that proves the dashboard and operations images really run.
import { readFileSync } from "node:fs";
import { createServer } from "node:http";

/** The image's version.json, or null outside an image (pnpm dev, tests). */
function readBuild(versionFile) {
  try {
    return JSON.parse(readFileSync(versionFile, "utf8"));
  } catch (error) {
    if (error.code === "ENOENT") return null;
    throw error;
  }
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);
}

/**
 * @param {{ name: string, title: string, version: string, versionFile?: string }} page
 * @returns {import("node:http").Server}
 */
export function createPageServer({ name, title, version, versionFile = "/app/version.json" }) {
  const build = readBuild(versionFile);
  const html = `<!doctype html><html><head><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1><p>${escapeHtml(name)} ${escapeHtml(version)}</p></body></html>`;
  return createServer((request, response) => {
    if (request.method !== "GET") {
      response.writeHead(405, { allow: "GET" }).end();
    } else if (request.url === "/") {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(html);
    } else if (request.url === "/health") {
      response
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ status: "ok", service: name, version, build }));
    } else {
      response.writeHead(404).end();
    }
  });
}

/** Listens on PORT (default `defaultPort`) on all interfaces and closes cleanly on SIGTERM/SIGINT. */
export function servePage(page, defaultPort) {
  const server = createPageServer({ ...page, versionFile: process.env.SPECTRAL_VERSION_FILE });
  const port = Number(process.env.PORT ?? defaultPort);
  server.listen(port, "0.0.0.0", () => console.log(`${page.name}: listening on ${server.address().port}`));
  const stop = (signal) => {
    console.log(`${page.name}: received ${signal}, stopping`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  return server;
}
