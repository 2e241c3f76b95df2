// A dynamic-provider host outlives a `pulumi` CLI killed with SIGKILL (the engine gets no chance to stop its
// plugins): it would idle forever, and a call it still holds could land long after the run is gone. The host
// is started with the engine's address as its argument; once nothing listens there, it exits.
const net = require("node:net");

const WATCHING = Symbol.for("spectral.watchingEngine");

/** In a dynamic-provider host, exits once the engine at its address refuses connections; else nothing. */
function watchEngine(argv = process.argv, intervalMs = 1000) {
  if (globalThis[WATCHING] || !/[\\/]cmd[\\/]dynamic-provider([\\/]index\.js)?$/.test(argv[1] ?? "")) return;
  const [host, port] = String(argv[2] ?? "").split(":");
  if (!host || !Number(port)) return;
  globalThis[WATCHING] = true;
  const timer = setInterval(() => {
    const socket = net.connect({ host, port: Number(port) });
    socket.once("connect", () => socket.destroy());
    socket.once("error", (error) => {
      if (error.code === "ECONNREFUSED") process.exit(1);
    });
  }, intervalMs);
  timer.unref();
}

module.exports = { watchEngine };
