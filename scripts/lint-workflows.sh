#!/usr/bin/env bash
# Lints .github/workflows: actionlint (with shellcheck on run: blocks; installed into .tools/bin by
# scripts/install-test-deps.sh) and zizmor (pinned in tests/requirements.txt), offline. Part of `pnpm lint`.
set -euo pipefail
cd "$(dirname "$0")/.."
.tools/bin/actionlint -no-color .github/workflows/*.yml
zizmor --offline --no-progress .github/workflows
