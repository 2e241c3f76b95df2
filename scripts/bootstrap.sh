#!/usr/bin/env bash
# Makes a fresh machine ready to plan and test: pnpm at the version package.json pins, then the locked
# dependencies. Safe to re-run; it does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')

pnpm_ready() { [ "$(pnpm --version 2>/dev/null)" = "$pnpm_version" ]; }

if ! pnpm_ready; then
  # corepack is the usual route. Where the registry serves no signatures, corepack refuses the download:
  # then take its shims away again and install the same pinned version with npm.
  if command -v corepack >/dev/null 2>&1 && corepack enable >/dev/null 2>&1 && pnpm_ready; then
    :
  else
    command -v corepack >/dev/null 2>&1 && corepack disable >/dev/null 2>&1 || true
    npm install --global --silent "pnpm@${pnpm_version}"
    pnpm_ready || { echo "bootstrap: pnpm ${pnpm_version} could not be installed" >&2; exit 1; }
  fi
fi

pnpm install --frozen-lockfile --reporter=silent
