#!/usr/bin/env bash
# Builds the real peers (kube-apiserver, etcd, helm, prometheus, promtool) from the Go module proxy, the Route53
# emulator (moto) from PyPI and fetches the prometheus-operator CRDs into a cache outside the repo, keyed by version,
# so only the first run pays for the build.
# Prints `name=path` lines for every peer it made sure of.
# Usage: build.sh [kube-apiserver|etcd|helm|moto|prometheus|promtool|prometheus-operator-crds ...]
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

# go_build NAME VERSION MODULE_REQUIRE PACKAGE [extra go.mod lines] [ldflags] [build tags]
go_build() {
  local name=$1 version=$2 require=$3 pkg=$4 extra=$5 ldflags=${6:-} tags=${7:-}
  local out="$cache/bin/$name-$version"
  if [[ -x "$out" ]]; then echo "$name=$out"; return; fi
  command -v go >/dev/null || { log "go is required to build $name"; exit 1; }
  local dir="$cache/src/$name-$version"
  rm -rf "$dir" && mkdir -p "$dir"
  # A wrapper module: a dependency's replace directives are ignored, ours point its staging modules at releases.
  printf 'module tsd.local/%s\n\ngo 1.26.0\n\nrequire %s\n%s\n' "$name" "$require" "$extra" >"$dir/go.mod"
  log "building $name $version (first run only; a few minutes)"
  local started=$SECONDS
  (cd "$dir" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
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

# Prometheus v3 releases are published as module versions v0.3MM.P (release 3.MM.P); its go.mod has no replaces.
# remove_all_sd leaves out the service-discovery plugins: the tests scrape static targets, and the build halves.
build_prometheus_cmd() {
  local name=$1 v=$PROMETHEUS_VERSION release
  release="3.${v#v0.3}"
  go_build "$name" "$v" "github.com/prometheus/prometheus $v" "github.com/prometheus/prometheus/cmd/$name" "" \
    "-X github.com/prometheus/common/version.Version=$release" remove_all_sd
}

# The monitoring.coreos.com CRDs (PrometheusRule, ServiceMonitor, ...) as the operator's module ships them.
fetch_prometheus_operator_crds() {
  local v=$PROMETHEUS_OPERATOR_VERSION dir="$cache/prometheus-operator-crds-$PROMETHEUS_OPERATOR_VERSION" src
  if [[ ! -d "$dir" ]]; then
    command -v go >/dev/null || { log "go is required to fetch the prometheus-operator CRDs"; exit 1; }
    src=$(go mod download -json "github.com/prometheus-operator/prometheus-operator@$v" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
    cp "$src"/example/prometheus-operator-crd/*.yaml "$dir.tmp/" && chmod u+w "$dir.tmp"/*.yaml
    mv "$dir.tmp" "$dir"
  fi
  echo "prometheus-operator-crds=$dir"
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
    prometheus) build_prometheus_cmd prometheus ;;
    promtool) build_prometheus_cmd promtool ;;
    prometheus-operator-crds) fetch_prometheus_operator_crds ;;
    *) log "unknown peer: $p"; exit 2 ;;
  esac
done
