#!/usr/bin/env bash
# Prints the Node base image to build RaftKV's Dockerfile on, building a local one first when no
# registry answers.
#
# The Dockerfile's default base is the official `node:20-bookworm-slim`. Where no registry can
# be reached (air-gapped CI, sandboxes), this builds an equivalent image instead: a Debian
# minbase root filesystem made by debootstrap from the mirror apt is configured with, plus this
# machine's own Node runtime (node, npm, corepack) in /usr/local as the official image has them,
# and a `node` user with uid 1000. It is tagged under its own name so nobody mistakes it for
# the official image:
#
#   docker build --build-arg NODE_IMAGE="$(scripts/offline-base-image.sh)" -t raftkv .
#
# Usage: scripts/offline-base-image.sh [--force]   (--force rebuilds the local image)
# Env:   RAFTKV_OFFICIAL_NODE_IMAGE   the official image to try first (default node:20-bookworm-slim)
#        RAFTKV_OFFLINE_NODE_IMAGE    tag of the local image (default raftkv-local/node:<major>-<codename>-slim)
#        RAFTKV_PULL_TIMEOUT          seconds to wait for the registry (default 30)
# Needs root (debootstrap, chroot), docker, debootstrap and node on PATH.
set -euo pipefail

official=${RAFTKV_OFFICIAL_NODE_IMAGE:-node:20-bookworm-slim}
force=false
[ "${1:-}" = "--force" ] && force=true

say() { printf 'offline-base-image: %s\n' "$*" >&2; }

if ! $force; then
  if docker image inspect "$official" >/dev/null 2>&1; then
    echo "$official"
    exit 0
  fi
  say "trying to pull $official"
  if timeout "${RAFTKV_PULL_TIMEOUT:-30}" docker pull -q "$official" >/dev/null 2>&1; then
    echo "$official"
    exit 0
  fi
  say "no registry answered; using a local base image instead"
fi

# shellcheck source=/dev/null
. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
node_bin=$(readlink -f "$(command -v node)")
node_version=$(node --version)
node_major=${node_version#v}
node_major=${node_major%%.*}
target=${RAFTKV_OFFLINE_NODE_IMAGE:-raftkv-local/node:${node_major}-${codename}-slim}

if ! $force && docker image inspect "$target" >/dev/null 2>&1 &&
  [ "$(docker image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$target" | sed -n 's/^NODE_VERSION=//p')" = "${node_version#v}" ]; then
  say "$target already holds node $node_version"
  echo "$target"
  exit 0
fi

command -v debootstrap >/dev/null || { say "needs debootstrap: apt-get install -y debootstrap"; exit 1; }
[ "$(id -u)" -eq 0 ] || { say "needs root (debootstrap and chroot)"; exit 1; }

# The Debian mirror apt uses here (deb822 .sources or one-line .list), so debootstrap goes
# wherever apt is allowed to go.
mirror=$(
  {
    cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
      /^[[:space:]]*$/ { if (uri && suite) { print uri; found = 1; exit } uri = ""; suite = 0; next }
      /^URIs:/ { uri = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == "'"$codename"'") suite = 1 }
      END { if (!found && uri && suite) print uri }'
    { grep -hE "^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[a-z]+://[^[:space:]]+[[:space:]]+${codename}[[:space:]]" \
      /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
      sed -E 's/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{ print $1 }'; } || true
  } | head -n 1
)
[ -n "$mirror" ] || { say "no Debian mirror for $codename in /etc/apt/sources.list*"; exit 1; }

work=$(mktemp -d /tmp/raftkv-base.XXXXXX)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

say "debootstrap --variant=minbase $codename from $mirror"
debootstrap --variant=minbase "$codename" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 20 "$work/debootstrap.log" >&2
  exit 1
}

# Node as the official image lays it out: /usr/local/bin/node and the bundled npm and corepack.
global_modules=$(npm root -g)
install -D -m 0755 "$node_bin" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
for pkg in npm corepack; do
  [ -d "$global_modules/$pkg" ] && cp -a "$global_modules/$pkg" "$rootfs/usr/local/lib/node_modules/"
done
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
[ -d "$rootfs/usr/local/lib/node_modules/corepack" ] &&
  ln -s ../lib/node_modules/corepack/dist/corepack.js "$rootfs/usr/local/bin/corepack"

# The machine's trusted CAs: where registries are only reachable through a TLS-inspecting
# egress proxy, npm inside the build must trust what the machine trusts.
extra_ca=()
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  install -D -m 0644 /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/local/share/raftkv-base/ca-certificates.crt"
  extra_ca=(--change "ENV NODE_EXTRA_CA_CERTS=/usr/local/share/raftkv-base/ca-certificates.crt")
fi

env -u NODE_EXTRA_CA_CERTS chroot "$rootfs" /usr/local/bin/node -e 'require("node:crypto"); require("node:zlib")' ||
  { say "the copied node does not run in the $codename root filesystem"; exit 1; }
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# What a slim image leaves out.
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log "$rootfs"/debootstrap

say "importing as $target"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change "ENV NODE_VERSION=${node_version#v}" \
  "${extra_ca[@]}" \
  --change 'CMD ["node"]' \
  --message "RaftKV offline base: debootstrap $codename + node $node_version from the build machine" \
  - "$target" >/dev/null
echo "$target"
