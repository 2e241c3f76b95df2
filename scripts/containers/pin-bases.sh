#!/usr/bin/env bash
# Makes the committed Dockerfiles build unchanged on the private engine (engine.sh), which no registry
# reaches: each digest-pinned base, such as python@sha256:f85c…, is recorded in the engine's reference
# store as a name for its local stand-in (standins.sh). BuildKit then resolves the pinned reference
# locally and never asks a registry. No API adds a digest reference (`docker tag` refuses one), so the
# engine is stopped, its repositories.json gains the references, and it starts again. Nothing is done
# when every pinned reference already resolves.
#
# Usage: pin-bases.sh < "official image:tag  stand-in tag" lines (standins.sh's output)
# Settings (env): SPECTRAL_DOCKER_ROOT (default /var/tmp/spectral-docker), as engine.sh.
set -euo pipefail

fail() {
  echo "pin-bases.sh: $*" >&2
  exit 1
}

here=$(cd "$(dirname "$0")" && pwd)
root=${SPECTRAL_DOCKER_ROOT:-/var/tmp/spectral-docker}
store=$root/data/image/overlay2/repositories.json
client=/usr/bin/docker
export DOCKER_HOST=unix://$root/docker.sock

# "name@sha256:… image-id" for each pinned base that does not resolve yet.
pending=()
while read -r official standin; do
  while read -r digest; do
    reference="${official%:*}@$digest"
    "$client" image inspect "$reference" >/dev/null 2>&1 && continue
    id=$("$client" image inspect --format '{{.Id}}' "$standin") || fail "stand-in $standin is not built"
    pending+=("$reference $id")
  done < <(grep -ho "FROM --platform=[^ ]* $official@sha256:[0-9a-f]*" "$here"/../../infra/docker/*.Dockerfile |
    sed 's/.*@//' | sort -u)
done
[ ${#pending[@]} -eq 0 ] && exit 0

kill "$(cat "$root/dockerd.pid")" || fail "cannot stop the engine (pid file $root/dockerd.pid)"
while "$client" version >/dev/null 2>&1; do sleep 0.2; done
while [ -e "$root/dockerd.pid" ]; do sleep 0.2; done
printf '%s\n' "${pending[@]}" | python3 -c '
import json, sys
path = sys.argv[1]
with open(path) as file:
    store = json.load(file)
for line in sys.stdin:
    reference, image_id = line.split()
    name = reference.split("@")[0]
    store["Repositories"].setdefault(name, {})[reference] = image_id
with open(path, "w") as file:
    json.dump(store, file)
' "$store"
bash "$here/engine.sh" >/dev/null
for entry in "${pending[@]}"; do
  "$client" image inspect "${entry% *}" >/dev/null 2>&1 || fail "the engine does not resolve ${entry% *} after pinning"
done
echo "pin-bases.sh: pinned ${#pending[@]} base reference(s) to their stand-ins" >&2
