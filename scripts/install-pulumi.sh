#!/usr/bin/env bash
# Installs the pinned Pulumi CLI for the engine tests, built from the Go module proxy, because our machines
# reach no other source of it (no get.pulumi.com, no GitHub releases). Operators elsewhere install the CLI
# the normal way (https://www.pulumi.com/docs/install/) at the same version.
#
# The binary is cached outside the work tree, keyed by version: ${SPECTRAL_TOOL_CACHE}/pulumi-<version>/.
# A second run finds it and only refreshes the links. Go's module and build caches are left in place, so
# a rebuild after a cache wipe is incremental.
#
# It links into the repository's gitignored .tools/bin, which the engine tests put first on PATH:
#   pulumi                          the CLI
#   pulumi-resource-pulumi-nodejs   the dynamic-provider host, which ships at the root of @pulumi/pulumi
#                                   (no language host or provider plugin is obtainable here)
#
# Usage: install-pulumi.sh        Settings (env): SPECTRAL_TOOL_CACHE (default /var/tmp/spectral-tools).
set -euo pipefail

version=v3.274.1
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${SPECTRAL_TOOL_CACHE:-/var/tmp/spectral-tools}/pulumi-$version
tools=$repo/.tools/bin

fail() {
  echo "install-pulumi.sh: $*" >&2
  exit 1
}

installed() { [ -x "$cache/pulumi" ] && [ "$("$cache/pulumi" version 2>/dev/null)" = "$version" ]; }

if ! installed; then
  started=$SECONDS
  echo "install-pulumi.sh: building the Pulumi CLI $version from the Go module proxy (about 15 min cold)" >&2
  # pkg/v3's go.mod replaces sdk/v3 with ../sdk, so both modules are laid side by side, writable.
  src=$(mktemp -d)
  trap 'chmod -R u+w "$src" && rm -rf "$src"' EXIT
  for module in pkg sdk; do
    dir=$(go mod download -json "github.com/pulumi/pulumi/$module/v3@$version" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])') ||
      fail "go mod download of github.com/pulumi/pulumi/$module/v3@$version failed"
    cp -R "$dir" "$src/$module"
    chmod -R u+w "$src/$module"
  done
  mkdir -p "$cache"
  (cd "$src/pkg" && go build -trimpath -o "$cache/pulumi.tmp" \
    -ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" ./cmd/pulumi) ||
    fail "go build of the Pulumi CLI failed"
  mv "$cache/pulumi.tmp" "$cache/pulumi"
  installed || fail "the built CLI does not report $version"
  echo "install-pulumi.sh: built in $((SECONDS - started)) s" >&2
fi

host=$repo/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs
[ -x "$host" ] || fail "$host is missing: run scripts/bootstrap.sh first"
mkdir -p "$tools"
ln -sfn "$cache/pulumi" "$tools/pulumi"
ln -sfn "$host" "$tools/pulumi-resource-pulumi-nodejs"
echo "install-pulumi.sh: pulumi $version ready in $tools" >&2
