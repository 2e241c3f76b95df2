#!/usr/bin/env bash
# Builds local stand-ins for the digest-pinned bases, which no registry reachable here can serve, and
# prints one line per base: "<official image:tag> <stand-in tag>".
#   python:3.14-slim-trixie  <- Debian forky's python3.14, debootstrap --variant=minbase
#   node:24-trixie-slim      <- Debian forky's nodejs 24 with corepack, plus the official image's
#                               user node (UID/GID 1000)
#   ghcr.io/astral-sh/uv:V   <- /uv and /uvx from PyPI's uv wheel of the same version
# Stand-ins are tagged by the package versions they hold and reused while those stay the same.
#
# Usage: standins.sh UV_VERSION    Settings (env): DOCKER_HOST, DEBIAN_MIRROR, SPECTRAL_STANDIN_WORK.
set -euo pipefail

fail() {
  echo "standins.sh: $*" >&2
  exit 1
}

uv_version=${1:?usage: standins.sh UV_VERSION}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
work=${SPECTRAL_STANDIN_WORK:-/var/tmp/spectral-standins}
docker=/usr/bin/docker
# The bookworm debootstrap has no forky script; forky bootstraps like sid.
suite_script=/usr/share/debootstrap/scripts/sid
[[ -x /usr/sbin/debootstrap && -f $suite_script ]] || fail "debootstrap is not installed (apt-get install debootstrap)"
mkdir -p "$work"

package_version() {
  awk -v name="$1" '$1 == "Package:" { found = ($2 == name) } found && $1 == "Version:" { print $2; exit }' "$work/Packages"
}

have_image() { "$docker" image inspect "$1" >/dev/null 2>&1; }

# Reads forky's package index once per run: its versions name the stand-ins.
curl -fsSL "$mirror/dists/forky/main/binary-amd64/Packages.xz" | xz -dc >"$work/Packages" ||
  fail "cannot read forky's package index from $mirror"

# debootstrap NAME TAG PACKAGES... CUSTOMIZE: a minbase forky root, customized, imported as TAG.
bootstrap() {
  local name=$1 tag=$2 packages=$3 customize=$4
  local root="$work/$name-root"
  rm -rf "$root"
  debootstrap --variant=minbase --include="$packages" forky "$root" "$mirror" "$suite_script" >"$work/$name.log" 2>&1 ||
    fail "debootstrap of the $name stand-in failed; see $work/$name.log"
  "$customize" "$root"
  trust_host_authorities "$root"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | "$docker" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV COREPACK_INTEGRITY_KEYS=0' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["bash"]' - "$tag" >/dev/null
  rm -rf "$root"
}

# This machine's egress may re-sign TLS with a local authority (the host trusts it through
# /usr/local/share/ca-certificates); builds inside a stand-in must trust what the host trusts.
trust_host_authorities() {
  if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/"
    chroot "$1" update-ca-certificates >/dev/null
  fi
}

customize_python() { :; }

customize_node() {
  chroot "$1" groupadd --gid 1000 node
  chroot "$1" useradd --uid 1000 --gid node --create-home --shell /bin/bash node
}

# Tags: package version plus this script's hash, so a changed recipe builds afresh. Tags allow no + or ~.
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-8)
tag_of() { local version=${2//[+~]/_}; echo "spectral-standin/$1:$version-$recipe"; }
python_tag=$(tag_of python "$(package_version python3.14)")
node_tag=$(tag_of node "$(package_version nodejs)")
uv_tag=$(tag_of uv "$uv_version")

have_image "$python_tag" || bootstrap python "$python_tag" python3.14,python3.14-venv,ca-certificates customize_python
have_image "$node_tag" || bootstrap node "$node_tag" nodejs,ca-certificates customize_node
if ! have_image "$uv_tag"; then
  rm -rf "$work/uv"
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_17_x86_64 \
    --dest "$work/uv" "uv==$uv_version" || fail "cannot download uv $uv_version from PyPI"
  python3 -m zipfile -e "$work"/uv/uv-*.whl "$work/uv/wheel"
  mkdir -p "$work/uv/root"
  install -m 0755 "$work"/uv/wheel/uv-*.data/scripts/uv "$work"/uv/wheel/uv-*.data/scripts/uvx "$work/uv/root/"
  tar -C "$work/uv/root" -c . | "$docker" import - "$uv_tag" >/dev/null
  rm -rf "$work/uv"
fi

echo "python:3.14-slim-trixie $python_tag"
echo "node:24-trixie-slim $node_tag"
echo "ghcr.io/astral-sh/uv:$uv_version $uv_tag"
