#!/usr/bin/env bash
# Builds the real peers (kube-apiserver, etcd, helm) from the Go module proxy and the Route53 emulator (moto) from
# PyPI into a cache outside the repo, keyed by version, so only the first run pays for the build.
# Prints `name=path` lines for every peer it made sure of. Usage: build.sh [kube-apiserver|etcd|helm|moto ...]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${TSD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thanos-store-discovery}"
mkdir -p "$cache/bin" "$cache/src"
log() { echo "[peers] $*" >&2; }

# One build at a time per cache: tests and the demo may ask at once.
exec 9>"$cache/build.lock"
flock 9

# go_build NAME VERSION MODULE_REQUIRE PACKAGE [extra go.mod lines] [ldflags]
go_build() {
  local name=$1 version=$2 require=$3 pkg=$4 extra=$5 ldflags=${6:-}
  local out="$cache/bin/$name-$version"
  if [[ -x "$out" ]]; then echo "$name=$out"; return; fi
  command -v go >/dev/null || { log "go is required to build $name"; exit 1; }
  local dir="$cache/src/$name-$version"
  rm -rf "$dir" && mkdir -p "$dir"
  # A wrapper module: a dependency's replace directives are ignored, ours point its staging modules at releases.
  printf 'module tsd.local/%s\n\ngo 1.26.0\n\nrequire %s\n%s\n' "$name" "$require" "$extra" >"$dir/go.mod"
  log "building $name $version (first run only; a few minutes)"
  local started=$SECONDS
  (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  log "built $name in $((SECONDS - started))s -> $out"
  echo "$name=$out"
}

gomod_of() { go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])'; }

build_kube_apiserver() {
  local v=$KUBERNETES_VERSION minor staging replaces=""
  [[ -x "$cache/bin/kube-apiserver-$v" ]] || {
    # The staging modules are the ones k8s.io/kubernetes replaces with ./staging paths; each is published as v0.<minor>.<patch>.
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$(gomod_of "k8s.io/kubernetes@$v")")
    for m in $staging; do replaces+="replace $m => $m v0.${v#v1.}"$'\n'; done
  }
  minor=${v#v1.}; minor=${minor%%.*}
  go_build kube-apiserver "$v" "k8s.io/kubernetes $v" k8s.io/kubernetes/cmd/kube-apiserver "$replaces" \
    "-X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
}

build_etcd() { go_build etcd "$ETCD_VERSION" "go.etcd.io/etcd/server/v3 $ETCD_VERSION" go.etcd.io/etcd/server/v3 ""; }

build_helm() {
  local major=${HELM_VERSION%%.*}
  go_build helm "$HELM_VERSION" "helm.sh/helm/$major $HELM_VERSION" "helm.sh/helm/$major/cmd/helm" ""
}

build_moto() {
  local venv="$cache/moto-$MOTO_VERSION"
  if [[ ! -x "$venv/bin/moto_server" ]]; then
    log "installing moto[server]==$MOTO_VERSION into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  fi
  echo "moto_server=$venv/bin/moto_server"
}

peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(etcd kube-apiserver helm moto)
for p in "${peers[@]}"; do
  case $p in
    kube-apiserver) build_kube_apiserver ;;
    etcd) build_etcd ;;
    helm) build_helm ;;
    moto) build_moto ;;
    *) log "unknown peer: $p"; exit 2 ;;
  esac
done
