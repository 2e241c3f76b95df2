// Test-only main module for workerd: loads the exact bundle the program uploads (index.js) and, when the
// config binds CONTAINER_DOUBLE, gives its Durable Object a container double in place of `ctx.container`
// (defined on ctx before the bundle's constructor runs, as the platform facts describe). The double is a facade over a server in the test
// process (container-double.ts), so a "container" outlives a workerd restart, as a real one outlives a
// Worker deployment. It also lets the test fire the bundle's cron handler: GET /__test/cron.
//
// POST /__test/deploy {binding: text} deploys new binding texts without restarting workerd: from then on
// the Worker and every Durable Object read them, as each does after a Cloudflare deployment, while requests
// already in flight finish. A restart of workerd would fail those requests, which a Cloudflare deployment
// does not (new requests go to the new version; the old one finishes its own), so load tests deploy here.
import * as bundle from "./index.js";

/** Binding texts deployed since workerd started; the Worker and its objects share this module. */
let deployed = {};
const current = (env) =>
  new Proxy(env, { get: (target, name) => (name in deployed ? deployed[name] : target[name]) });

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
    // workerd's own `running` sees a stop even when nothing monitors the container (one started before
    // this object's code, for one).
    this.call("monitor").then(() => {
      this.running = false;
    });
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
    super(ctx, current(env));
  }
}

export default {
  async fetch(request, env, ctx) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__test/deploy" && request.method === "POST") {
      deployed = { ...deployed, ...(await request.json()) };
      return new Response("deployed");
    }
    if (pathname === "/__test/cron") {
      await bundle.default.scheduled(
        { cron: "* * * * *", scheduledTime: Date.now(), noRetry() {} },
        current(env),
        ctx,
      );
      return new Response("cron done");
    }
    return bundle.default.fetch(request, current(env), ctx);
  },
};
