# The deployed app container (ADR-049 D1): PID 1 is app_supervisor.py, which runs the API and the
# workers as sibling processes. Build from the repository root, after infra/docker/build-version.sh:
#   docker build --platform linux/amd64 -f infra/docker/app.Dockerfile .
#
# Bases are pinned by multi-arch index digest, the newest found in public sources on 2026-10-09
# (python:3.14-slim-trixie is Python 3.14.8; uv 0.13.0). Dependabot refreshes them. Builder and runtime
# use the identical FROM, so the venv's interpreter path is the same in both.
# Build is public, runtime is secret (D6): nothing here reads a secret.

FROM --platform=linux/amd64 ghcr.io/astral-sh/uv:0.13.0@sha256:cdc6093146eb3ff6a40107b38f008b789e050e77ad87865e381d9917da55a168 AS uv

FROM --platform=linux/amd64 python:3.14-slim-trixie@sha256:f85c5697265c178cc6887276c55fe16cf3d14ca35c3df6a5eab3b360534a55d2 AS builder
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON=python3.14 \
    UV_PYTHON_DOWNLOADS=0 \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
COPY --from=uv /uv /usr/local/bin/uv
# Lockfile, then install: dependencies only, so a source change reuses this layer.
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=reference-app/python/uv.lock,target=uv.lock \
    --mount=type=bind,source=reference-app/python/pyproject.toml,target=pyproject.toml \
    uv sync --locked --no-dev --no-install-project
# Then source: the project is installed editable, so the venv does not change when only the source does.
# uv's lock file in the venv is writable by anyone; nothing at run time needs it.
COPY reference-app/python/pyproject.toml reference-app/python/uv.lock ./
COPY reference-app/python/src ./src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --locked --no-dev \
    && rm -f /app/.venv/.lock

FROM --platform=linux/amd64 python:3.14-slim-trixie@sha256:f85c5697265c178cc6887276c55fe16cf3d14ca35c3df6a5eab3b360534a55d2 AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/app/.venv/bin:$PATH
# Each scope is a user of its own (app_supervisor.py): api 1001, workers 1002, both in spectral (1000),
# which may read the whole-app file secrets. Everything they run is root's, so neither can plant code for
# the other; /etc/spectral is root's too, so neither can replace a file secret.
RUN groupadd --gid 1000 spectral \
    && groupadd --gid 1001 spectral-api \
    && groupadd --gid 1002 spectral-workers \
    && useradd --uid 1001 --gid spectral-api --groups spectral --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin spectral-api \
    && useradd --uid 1002 --gid spectral-workers --groups spectral --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin spectral-workers \
    && install -d -o root -g spectral -m 0750 /etc/spectral
WORKDIR /app
COPY --from=builder /app/.venv ./.venv
# Least to most often changed: dependencies, the supervisor, the app's source, then the stamp.
COPY infra/docker/app_supervisor.py ./app_supervisor.py
COPY reference-app/python/src ./src
COPY infra/docker/version.json ./version.json
# PID 1 starts as root to run each scope as its own user, then keeps only CAP_KILL (app_supervisor.py).
# hadolint ignore=DL3002
USER 0:0
EXPOSE 8000
CMD ["python", "/app/app_supervisor.py"]
