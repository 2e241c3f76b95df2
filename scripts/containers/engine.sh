#!/usr/bin/env bash
# Starts a private Docker engine for the container suite, or reuses the one already running, and
# prints its DOCKER_HOST. Debian's docker.io engine runs on its own socket and data root, with no
# bridge and no iptables changes; builds and containers use host networking.
#
# Settings (env): SPECTRAL_DOCKER_ROOT (default /var/tmp/spectral-docker).
set -euo pipefail

fail() {
  echo "engine.sh: $*" >&2
  exit 1
}

root=${SPECTRAL_DOCKER_ROOT:-/var/tmp/spectral-docker}
host="unix://$root/docker.sock"
client=/usr/bin/docker

answers() { DOCKER_HOST=$host "$client" version --format '{{.Server.Version}}' >/dev/null 2>&1; }

if [[ -x $client ]] && answers; then
  echo "$host"
  exit 0
fi
[[ -x /usr/sbin/dockerd && -x $client ]] || fail "Debian's docker.io is not installed (apt-get install docker.io)"
[[ $(id -u) -eq 0 ]] || fail "starting the engine needs root (dockerd mounts overlay filesystems)"

mkdir -p "$root"
setsid /usr/sbin/dockerd --host "$host" --data-root "$root/data" --exec-root "$root/exec" \
  --pidfile "$root/dockerd.pid" --iptables=false --bridge=none >"$root/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 60); do
  if answers; then
    echo "$host"
    exit 0
  fi
  sleep 0.5
done
fail "the engine did not answer within 30 s; its log is $root/dockerd.log"
