#!/usr/bin/env bash
# Writes version.json for the image (ADR-049 D5): sha, short_sha, describe, built_at, uv_lock_sha,
# pnpm_lock_sha. Deterministic: built_at is the commit time (SOURCE_DATE_EPOCH, when set, wins), so the
# same commit gives byte-identical output, the same image layers, and no spurious redeploy. A dirty tree
# shows as a "-dirty" suffix in describe.
#
# Usage: build-version.sh [OUTPUT]   (default: infra/docker/version.json in the checkout)
# Lockfiles hashed (relative to the checkout): UV_LOCK (default reference-app/python/uv.lock) and
# PNPM_LOCK (default pnpm-lock.yaml); a missing one is recorded as null.
set -euo pipefail

fail() {
  echo "build-version.sh: $*" >&2
  exit 1
}

top=$(git rev-parse --show-toplevel 2>/dev/null) || fail "not inside a git checkout (run it from the repository, where git can see the commit being built)"
cd "$top"
sha=$(git rev-parse --verify HEAD 2>/dev/null) || fail "the checkout has no commit yet"
short_sha=$(git rev-parse --short=12 HEAD)
describe=$(git describe --tags --always --dirty --abbrev=12)
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct HEAD)}
[[ $epoch =~ ^[0-9]+$ ]] || fail "SOURCE_DATE_EPOCH must be seconds since 1970, not '$epoch'"
built_at=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)

lock_sha() {
  if [[ -f $1 ]]; then
    printf '"%s"' "$(sha256sum "$1" | cut -d' ' -f1)"
  else
    printf 'null'
  fi
}

json_string() {
  local escaped=${1//\\/\\\\}
  printf '"%s"' "${escaped//\"/\\\"}"
}

output=${1:-infra/docker/version.json}
mkdir -p "$(dirname "$output")"
temporary="$output.tmp.$$"
{
  printf '{\n'
  printf '  "sha": %s,\n' "$(json_string "$sha")"
  printf '  "short_sha": %s,\n' "$(json_string "$short_sha")"
  printf '  "describe": %s,\n' "$(json_string "$describe")"
  printf '  "built_at": %s,\n' "$(json_string "$built_at")"
  printf '  "uv_lock_sha": %s,\n' "$(lock_sha "${UV_LOCK:-reference-app/python/uv.lock}")"
  printf '  "pnpm_lock_sha": %s\n' "$(lock_sha "${PNPM_LOCK:-pnpm-lock.yaml}")"
  printf '}\n'
} >"$temporary"
mv "$temporary" "$output"
