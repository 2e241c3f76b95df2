#!/usr/bin/env bash
# Starts a private Docker engine for the container suite, or reuses the one already running, and
# prints its DOCKER_HOST. Debian's docker.io engine runs on its own socket and data root. It keeps the
# default bridge and its iptables rules, as a stock engine does: the local compose flow needs them (project
# networks, published ports, host.docker.internal). The suite's own builds and containers use host
# networking. An engine this script started earlier without a bridge is restarted.
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

has_bridge() { DOCKER_HOST=$host "$client" network inspect bridge >/dev/null 2>&1; }

if [[ -x $client ]] && answers; then
  if has_bridge; then
    echo "$host"
    exit 0
  fi
  kill "$(cat "$root/dockerd.pid")" 2>/dev/null || fail "an engine without a bridge answers on $host; stop it"
  while answers; do sleep 0.2; done
fi
[[ -x /usr/sbin/dockerd && -x $client ]] || fail "Debian's docker.io is not installed (apt-get install docker.io)"
[[ $(id -u) -eq 0 ]] || fail "starting the engine needs root (dockerd mounts overlay filesystems)"

mkdir -p "$root"
setsid /usr/sbin/dockerd --host "$host" --data-root "$root/data" --exec-root "$root/exec" \
  --pidfile "$root/dockerd.pid" >"$root/dockerd.log" 2>&1 </dev/null &
for _ in $(seq 60); do
  if answers; then
    echo "$host"
    exit 0
  fi
  sleep 0.5
done
fail "the engine did not answer within 30 s; its log is $root/dockerd.log"
