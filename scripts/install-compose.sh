#!/usr/bin/env bash
# Installs the Docker Compose and Buildx CLI plugins for the local compose flow (`pnpm compose:*`) and its
# test, built from the Go module proxy, because our machines reach no other source of them. Compose needs
# Buildx: without it Compose falls back to the classic builder, which cannot run the Dockerfiles'
# `RUN --mount` steps. Operators get both the normal way, with Docker Desktop or Docker's
# docker-compose-plugin and docker-buildx-plugin packages (https://docs.docker.com/compose/install/).
#
# Each binary is cached outside the work tree, keyed by version: ${SPECTRAL_TOOL_CACHE}/<tool>-<version>/.
# It is linked into ${DOCKER_CONFIG:-~/.docker}/cli-plugins, where the docker CLI looks for plugins; a
# plugin already there that is not one of these links is left alone, and the script fails saying so.
#
# Usage: install-compose.sh        Settings (env): SPECTRAL_TOOL_CACHE (default /var/tmp/spectral-tools).
set -euo pipefail

compose_version=v5.6.0
buildx_version=v0.38.2
cache_root=${SPECTRAL_TOOL_CACHE:-/var/tmp/spectral-tools}
plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins

fail() {
  echo "install-compose.sh: $*" >&2
  exit 1
}

# build MODULE VERSION PACKAGE VERSION_VARIABLE BINARY: go build of one module's command into the cache.
build() {
  local module=$1 version=$2 package=$3 variable=$4 binary=$5
  local cache=$cache_root/$binary-$version
  [ -x "$cache/$binary" ] && return 0
  local started=$SECONDS src dir
  echo "install-compose.sh: building $binary $version from the Go module proxy" >&2
  dir=$(go mod download -json "$module@$version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
    fail "go mod download of $module@$version failed"
  # The module cache is read-only, and a module with exclude directives cannot be built by `go install`.
  src=$(mktemp -d)
  cp -R "$dir/." "$src"
  chmod -R u+w "$src"
  mkdir -p "$cache"
  (cd "$src" && go build -trimpath -ldflags "-X $module/$variable=$version" -o "$cache/$binary.tmp" "./$package") ||
    fail "go build of $binary failed"
  rm -rf "$src"
  mv "$cache/$binary.tmp" "$cache/$binary"
  echo "install-compose.sh: built $binary in $((SECONDS - started)) s" >&2
}

link() {
  local binary=$1 version=$2
  local target=$cache_root/$binary-$version/$binary
  if [ -e "$plugins/$binary" ] && [ ! -L "$plugins/$binary" ]; then
    fail "$plugins/$binary exists and is not a link this script made; remove it or set DOCKER_CONFIG"
  fi
  mkdir -p "$plugins"
  ln -sfn "$target" "$plugins/$binary"
}

build github.com/docker/compose/v5 "$compose_version" cmd internal.Version docker-compose
build github.com/docker/buildx "$buildx_version" cmd/buildx version.Version docker-buildx
link docker-compose "$compose_version"
link docker-buildx "$buildx_version"
docker compose version | grep -q "$compose_version" || fail "docker compose does not report $compose_version"
docker buildx version | grep -q "$buildx_version" || fail "docker buildx does not report $buildx_version"
echo "install-compose.sh: docker compose $compose_version and buildx $buildx_version ready in $plugins" >&2
