#!/usr/bin/env bash
# Makes a fresh machine ready to plan and test: pnpm at the version package.json pins, then the locked
# dependencies. Safe to re-run; it does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

pnpm_version=$(node -p 'require("./package.json").packageManager.split("@")[1]')

if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version 2>/dev/null)" != "$pnpm_version" ]; then
  # corepack is the usual route; some registries serve no signatures, which corepack then rejects,
  # so fall back to npm's global install of the same pinned version.
  if ! { command -v corepack >/dev/null 2>&1 && corepack enable >/dev/null 2>&1 && pnpm --version >/dev/null 2>&1; }; then
    npm install --global --silent "pnpm@${pnpm_version}"
  fi
fi

pnpm install --frozen-lockfile --reporter=silent
