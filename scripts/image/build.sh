#!/usr/bin/env bash
# `npm run image`: builds the Dockerfile with buildah, offline (no registry: --pull=never), into the machine's default
# containers-storage as localhost/thanos-store-discovery:<package.json version>. The base images are the stand-ins of
# bases.sh (passed as BUILD_IMAGE / RUNTIME_IMAGE); a user's `docker build .` uses the public bases instead.
# Prints `image=NAME` and `id=IMAGE_ID` (the ID names this build even if another checkout re-tags NAME meanwhile).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
bash "$here/tools.sh"
declare -A base
while IFS='=' read -r key value; do base[$key]=$value; done < <(bash "$here/bases.sh")
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
source_url=$(node -p 'const r = require(process.argv[1]).repository; (typeof r === "string" ? r : r?.url) ?? ""' "$root/package.json")
image="localhost/thanos-store-discovery:$version"
echo "[image] building $image on ${base[build]} and ${base[runtime]}" >&2
started=$SECONDS
iidfile=$(mktemp)
trap 'rm -f "$iidfile"' EXIT
# The build stage's `npm install` reads the host's npm cache (filled by the checkout's own `npm install`) through an
# overlay, so nothing is fetched and nothing is written back.
buildah build --isolation chroot --pull=never --layers --volume "$(npm config get cache):/root/.npm:O" \
  --build-arg "BUILD_IMAGE=${base[build]}" --build-arg "RUNTIME_IMAGE=${base[runtime]}" \
  --build-arg "VERSION=$version" --build-arg "SOURCE=$source_url" \
  --iidfile "$iidfile" --tag "$image" "$root" >&2
echo "[image] built $image in $((SECONDS - started)) s" >&2
echo "image=$image"
echo "id=$(cat "$iidfile")"
