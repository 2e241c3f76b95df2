# The operations portal (ADR-049 D1): a separately launchable Node image. Build from the repository root,
# after infra/docker/build-version.sh:
#   docker build --platform linux/amd64 -f infra/docker/operations.Dockerfile .
#
# The base is pinned by multi-arch index digest, the newest found in public sources on 2026-10-09
# (node:24-trixie-slim is Node 24.21.0). Dependabot refreshes it. Builder and runtime use the
# identical FROM. Build is public, runtime is secret (D6): nothing here reads a secret.

FROM --platform=linux/amd64 node:24-trixie-slim@sha256:173f125896c3b47ddf056734c7ea789d04595a6a08769a8f78e0df642781fb66 AS builder
ENV PNPM_HOME=/pnpm \
    CI=true
WORKDIR /build
# corepack installs the pnpm version that package.json's packageManager pins.
RUN --mount=type=bind,source=package.json,target=package.json \
    corepack enable pnpm && corepack install
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
# Lockfile, then install: pnpm fetch reads only the lockfile, so a source change reuses this layer.
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm fetch --prod
# Then source, deployed with its production dependencies alone into /out.
COPY reference-app/page-server ./reference-app/page-server
COPY reference-app/operations ./reference-app/operations
RUN --mount=type=cache,id=pnpm-store,target=/pnpm/store \
    pnpm --filter @spectral/operations deploy --prod --offline /out

FROM --platform=linux/amd64 node:24-trixie-slim@sha256:173f125896c3b47ddf056734c7ea789d04595a6a08769a8f78e0df642781fb66 AS runtime
ENV NODE_ENV=production \
    PORT=3001
# The image's user node already has UID/GID 1000: rename it rather than add a second user.
RUN groupmod --new-name spectral node \
    && usermod --login spectral --home /home/spectral --move-home node \
    && install -d -o spectral -g spectral -m 0755 /app \
    && install -d -o spectral -g spectral -m 0700 /etc/spectral
WORKDIR /app
COPY --from=builder --chown=spectral:spectral /out/node_modules ./node_modules
COPY --from=builder --chown=spectral:spectral /out/package.json /out/server.js ./
COPY --chown=spectral:spectral infra/docker/version.json ./version.json
# spectral, numerically, so a platform can verify it is not root without reading /etc/passwd.
USER 1000:1000
EXPOSE 3001
CMD ["node", "server.js"]
