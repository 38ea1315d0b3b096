#!/usr/bin/env bash
# Makes sure the container tools the image build and the image tests use are installed: buildah (builds the
# Dockerfile), podman + runc (run it; crun cannot run here, see containers.conf) and debootstrap (the stand-in base
# images). Installs the missing ones from the machine's Debian packages; does nothing when all are present.
set -euo pipefail
declare -A PACKAGE_OF=([buildah]=buildah [podman]=podman [runc]=runc [debootstrap]=debootstrap)
missing=()
for tool in "${!PACKAGE_OF[@]}"; do
  command -v "$tool" >/dev/null || missing+=("${PACKAGE_OF[$tool]}")
done
((${#missing[@]} == 0)) && exit 0
echo "[image] installing ${missing[*]} (apt-get)" >&2
export DEBIAN_FRONTEND=noninteractive
# Other checkouts (and other tools) may hold the dpkg lock: wait for it instead of failing.
apt_get() { apt-get -o DPkg::Lock::Timeout=600 -qq "$@"; }
apt_get update
apt_get install --no-install-recommends "${missing[@]}" >/dev/null
