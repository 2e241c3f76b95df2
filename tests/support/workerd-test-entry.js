// Test-only main module for workerd: loads the exact bundle the program uploads (index.js) and, when the
// config binds CONTAINER_DOUBLE, gives its Durable Object a container double in place of `ctx.container`
// (defined on ctx before the bundle's constructor runs, as the platform facts describe). The double is a facade over a server in the test
// process (container-double.ts), so a "container" outlives a workerd restart, as a real one outlives a
// Worker deployment. It also lets the test fire the bundle's cron handler: GET /__test/cron.
import * as bundle from "./index.js";

class ContainerDouble {
  constructor(key, double, initial) {
    this.key = key;
    this.double = double;
    this.running = Boolean(initial?.running);
  }

  call(action, body = {}) {
    return this.double.fetch(`http://double/${action}/${encodeURIComponent(this.key)}`, {
      method: "POST",
      body: JSON.stringify(body),
    });
  }

  start(options) {
    this.running = true;
    this.started = this.call("start", { env: options?.env ?? {} });
  }

  async monitor() {
    await this.started;
    await this.call("monitor");
    this.running = false;
  }

  signal(signal) {
    this.call("signal", { signal });
  }

  async destroy() {
    await this.call("destroy");
    this.running = false;
  }

  getTcpPort(port) {
    return {
      fetch: async (url, init) => {
        await this.started;
        const { pathname, search } = new URL(typeof url === "string" ? url : url.url);
        const request = new Request(
          `http://double/proxy/${encodeURIComponent(this.key)}/${port}${pathname}${search}`,
          init,
        );
        return this.double.fetch(request);
      },
    };
  }
}

export class SpectralApp extends bundle.SpectralApp {
  constructor(ctx, env) {
    // Without a double, ctx.container is workerd's own (a real container through the Docker API).
    if (env.CONTAINER_DOUBLE) {
      const key = ctx.id.name ?? ctx.id.toString();
      const initial = JSON.parse(env.TEST_CONTAINERS ?? "{}")[key];
      Object.defineProperty(ctx, "container", {
        value: new ContainerDouble(key, env.CONTAINER_DOUBLE, initial),
      });
    }
    super(ctx, env);
  }
}

export default {
  async fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/__test/cron") {
      await bundle.default.scheduled(
        { cron: "* * * * *", scheduledTime: Date.now(), noRetry() {} },
        env,
        ctx,
      );
      return new Response("cron done");
    }
    return bundle.default.fetch(request, env, ctx);
  },
};
