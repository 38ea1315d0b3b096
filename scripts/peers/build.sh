#!/usr/bin/env bash
# Builds the real peers (kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, etcd, helm, thanos, kwok,
# prometheus, promtool) and helm-docs (which writes the chart README's values table)
# from the Go module proxy, the Route53 emulator (moto) from PyPI, and fetches the prometheus-operator CRDs, into a
# cache outside the repo, keyed by version, so only the first run pays for the build. Prints `name=path` lines for
# every peer it made sure of.
# Usage: build.sh [peer ...] (default: all). TSD_BUILD_JOBS (default 2) peers are built at once.
# To add a peer: one build_<peer> function and one case entry in build_one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"
cache="${TSD_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/thanos-store-discovery}"
mkdir -p "$cache/bin" "$cache/src" "$cache/locks"
log() { echo "[peers] $*" >&2; }
# Longest first, so a slot never waits behind a short one; the second kube command comes from the first's build.
ALL_PEERS=(kube-apiserver thanos promtool prometheus etcd kwok helm helm-docs moto prometheus-operator-crds
  kube-controller-manager kube-scheduler kubelet node-runtime node-images)

# locked NAME CMD...: runs CMD holding the lock of NAME, so tests, the demo and other checkouts sharing the cache
# never build the same thing twice at once, while different peers build side by side.
locked() {
  local name=$1 fd
  shift
  exec {fd}>"$cache/locks/$name.lock"
  flock "$fd"
  "$@"
  exec {fd}>&-
}

# wrapper_module DIR REQUIRE [extra go.mod lines] [package ...]: a module that requires the peer's module. A
# dependency's replace directives are ignored, so the wrapper carries the ones the peer's own go.mod has. Listing the
# packages once fills go.sum, after which several binaries can be built from it at once without writing to it.
# `ready` names the packages listed so far: a wrapper made for fewer packages (an older cache) lists the new ones too.
wrapper_module() {
  local dir=$1 require=$2 extra=$3 p listed=1
  shift 3
  for p in "$@"; do grep -qxF "$p" "$dir/ready" 2>/dev/null || listed=0; done
  ((listed)) && return
  command -v go >/dev/null || { log "go is required to build $require"; exit 1; }
  if [[ ! -f "$dir/ready" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    printf 'module tsd.local/%s\n\ngo 1.26.0\n\nrequire %s\n%s\n' "$(basename "$dir")" "$require" "$extra" >"$dir/go.mod"
  fi
  (cd "$dir" && go list -mod=mod -deps "$@" >/dev/null)
  printf '%s\n' "$@" >"$dir/ready"
}

# go_build NAME VERSION WRAPPER_DIR PACKAGE [ldflags] [build tags]: builds PACKAGE of a prepared wrapper module.
go_build() {
  local name=$1 version=$2 dir=$3 pkg=$4 ldflags=${5:-} tags=${6:-}
  local out="$cache/bin/$name-$version"
  [[ -x "$out" ]] && return
  log "building $name $version (first run only; minutes)"
  local started=$SECONDS
  (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -tags "$tags" -ldflags "-s -w $ldflags" -o "$out.tmp" "$pkg")
  mv "$out.tmp" "$out"
  log "built $name in $((SECONDS - started))s -> $out"
}

gomod_of() { go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])'; }

# The module-to-module replace directives of a published go.mod, as go.mod lines (local-path ones are left out).
module_replaces_of() {
  go mod edit -json "$(gomod_of "$1")" | python3 -c '
import json, sys
for r in json.load(sys.stdin).get("Replace") or []:
    if r["New"].get("Version"):
        old = r["Old"]["Path"] + (" " + r["Old"]["Version"] if r["Old"].get("Version") else "")
        print("replace %s => %s %s" % (old, r["New"]["Path"], r["New"]["Version"]))'
}

# The kube commands come from one wrapper of k8s.io/kubernetes, whose go.mod points its staging modules at ./staging
# paths; each is published as v0.<minor>.<patch>, which the wrapper replaces them with. One `go build` makes the
# missing ones: they share most packages, and builds side by side would compile each shared package twice.
KUBE_COMMANDS=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
build_kube_commands() {
  local v=$KUBERNETES_VERSION minor staging replaces="" c pkgs=() missing=()
  for c in "${KUBE_COMMANDS[@]}"; do [[ -x "$cache/bin/$c-$v" ]] || missing+=("$c"); done
  if ((${#missing[@]} > 0)); then
    staging=$(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "$(gomod_of "k8s.io/kubernetes@$v")")
    for m in $staging; do replaces+="replace $m => $m v0.${v#v1.}"$'\n'; done
    for c in "${missing[@]}"; do pkgs+=("k8s.io/kubernetes/cmd/$c"); done
    local dir="$cache/src/kubernetes-$v" out="$cache/src/kubernetes-$v/bin"
    wrapper_module "$dir" "k8s.io/kubernetes $v" "$replaces" "${KUBE_COMMANDS[@]/#/k8s.io/kubernetes/cmd/}"
    minor=${v#v1.}; minor=${minor%%.*}
    log "building ${missing[*]} $v (first run only; minutes)"
    local started=$SECONDS
    rm -rf "$out" && mkdir -p "$out"
    (cd "$dir" && GOFLAGS=-mod=readonly CGO_ENABLED=0 go build -trimpath -o "$out/" \
      -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor" \
      "${pkgs[@]}")
    for c in "${missing[@]}"; do mv "$out/$c" "$cache/bin/$c-$v"; done
    log "built ${missing[*]} in $((SECONDS - started))s"
  fi
  for c in "${KUBE_COMMANDS[@]}"; do echo "$c=$cache/bin/$c-$v"; done
}

# simple_go_build NAME VERSION MODULE PACKAGE [ldflags] [tags]: a peer whose go.mod has no replace directives we need.
simple_go_build() {
  local name=$1 version=$2 module=$3 pkg=$4 ldflags=${5:-} tags=${6:-}
  if [[ ! -x "$cache/bin/$name-$version" ]]; then
    wrapper_module "$cache/src/$name-$version" "$module $version" "" "$pkg"
    go_build "$name" "$version" "$cache/src/$name-$version" "$pkg" "$ldflags" "$tags"
  fi
  echo "$name=$cache/bin/$name-$version"
}

build_etcd() { simple_go_build etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3; }

build_helm() {
  local major=${HELM_VERSION%%.*}
  simple_go_build helm "$HELM_VERSION" "helm.sh/helm/$major" "helm.sh/helm/$major/cmd/helm"
}

build_helm_docs() { simple_go_build helm-docs "$HELM_DOCS_VERSION" github.com/norwoodj/helm-docs github.com/norwoodj/helm-docs/cmd/helm-docs; }

# kwok acts only through Stages; its own "fast" ones (node Ready at once, pod Running and Ready at once, deletion
# honoured) ship in its module, and kwok reads them from one multi-document file next to the binary.
build_kwok() {
  local stages="$cache/bin/kwok-$KWOK_VERSION-stages.yaml" dir f
  simple_go_build kwok "$KWOK_VERSION" sigs.k8s.io/kwok sigs.k8s.io/kwok/cmd/kwok
  if [[ ! -s "$stages" ]]; then
    dir=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')
    for f in node/fast/node-initialize.yaml pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
      printf -- '---\n' && cat "$dir/kustomize/stage/$f"
    done >"$stages.tmp"
    mv "$stages.tmp" "$stages"
  fi
  echo "kwok_stages=$stages"
}

build_thanos() {
  local v=$THANOS_VERSION
  local dir="$cache/src/thanos-$v"
  if [[ ! -x "$cache/bin/thanos-$v" ]]; then
    wrapper_module "$dir" "github.com/thanos-io/thanos $v" \
      "$(module_replaces_of "github.com/thanos-io/thanos@$v")" github.com/thanos-io/thanos/cmd/thanos
    go_build thanos "$v" "$dir" github.com/thanos-io/thanos/cmd/thanos \
      "-X github.com/prometheus/common/version.Version=${v#v} -X github.com/prometheus/common/version.Branch=release"
  fi
  echo "thanos=$cache/bin/thanos-$v"
}

# Prometheus v3 releases are published as module versions v0.3MM.P (release 3.MM.P); its go.mod has no replaces.
# remove_all_sd leaves out the service-discovery plugins: the tests scrape static targets, and the build halves.
build_prometheus_cmd() {
  local name=$1 v=$PROMETHEUS_VERSION
  simple_go_build "$name" "$v" github.com/prometheus/prometheus "github.com/prometheus/prometheus/cmd/$name" \
    "-X github.com/prometheus/common/version.Version=3.${v#v0.3}" remove_all_sd
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

# What a real node runs besides the kubelet, from Debian: containerd and runc, the CNI plugins, busybox-static (the
# pause and Thanos images are made from it) and buildah (makes those images). Installed only when one is missing.
NODE_RUNTIME_PACKAGES=(containerd runc containernetworking-plugins busybox-static buildah)
install_node_runtime() {
  local missing=() p
  for p in "${NODE_RUNTIME_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
  done
  if ((${#missing[@]} > 0)); then
    command -v apt-get >/dev/null || { log "apt-get is required to install ${missing[*]}"; exit 1; }
    log "installing ${missing[*]} (apt-get; first run only)"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  echo "containerd=$(command -v containerd)"
  echo "ctr=$(command -v ctr)"
  echo "runc=$(command -v runc)"
  echo "cni-plugins=/usr/lib/cni"
  echo "busybox=/bin/busybox"
  echo "buildah=$(command -v buildah)"
}

# The images a real node runs that no registry can give here, as OCI archives for `ctr image import`: the pod sandbox
# (pause: busybox-static's shell waiting for a signal) and Thanos (the built binary on busybox-static). buildah works
# in a storage of its own, removed once the archives are written, so the machine's image store is never touched.
PAUSE_IMAGE=localhost/tsd-pause:1
build_node_images() {
  local out="$cache/images" peers thanos work b c
  peers=$(bash "$here/build.sh" thanos node-runtime)
  thanos=$(sed -n 's/^thanos=//p' <<<"$peers")
  local thanos_image="localhost/tsd-thanos:${THANOS_VERSION#v}"
  mkdir -p "$out"
  if [[ ! -s "$out/pause.tar" || ! -s "$out/thanos-$THANOS_VERSION.tar" ]]; then
    log "making the pause and Thanos images (first run only)"
    work=$(mktemp -d "$cache/images/buildah.XXXXXX")
    b=(buildah --root "$work/storage" --runroot "$work/run" --storage-driver vfs)
    c=$("${b[@]}" from scratch)
    "${b[@]}" copy "$c" /bin/busybox /bin/busybox >/dev/null
    "${b[@]}" config --entrypoint '["/bin/busybox","sh","-c","trap \"exit 0\" TERM INT; while :; do /bin/busybox sleep 3600 & wait; done"]' "$c"
    "${b[@]}" commit -q "$c" "$PAUSE_IMAGE" >/dev/null
    "${b[@]}" push -q "$PAUSE_IMAGE" "oci-archive:$out/pause.tar.tmp:$PAUSE_IMAGE"
    c=$("${b[@]}" from scratch)
    "${b[@]}" copy "$c" /bin/busybox /bin/busybox >/dev/null
    "${b[@]}" copy "$c" "$thanos" /bin/thanos >/dev/null
    "${b[@]}" config --entrypoint '["/bin/thanos"]' --user 1001:1001 "$c"
    "${b[@]}" commit -q "$c" "$thanos_image" >/dev/null
    "${b[@]}" push -q "$thanos_image" "oci-archive:$out/thanos-$THANOS_VERSION.tar.tmp:$thanos_image"
    "${b[@]}" rm -a >/dev/null
    rm -rf "$work"
    mv "$out/pause.tar.tmp" "$out/pause.tar"
    mv "$out/thanos-$THANOS_VERSION.tar.tmp" "$out/thanos-$THANOS_VERSION.tar"
  fi
  echo "pause-image=$PAUSE_IMAGE=$out/pause.tar"
  echo "thanos-image=$thanos_image=$out/thanos-$THANOS_VERSION.tar"
}

build_one() {
  case $1 in
    kube-apiserver | kube-controller-manager | kube-scheduler | kubelet) locked "kubernetes-$KUBERNETES_VERSION" build_kube_commands | grep "^$1=" ;;
    etcd) locked etcd build_etcd ;;
    helm) locked helm build_helm ;;
    helm-docs) locked helm-docs build_helm_docs ;;
    moto) locked moto build_moto ;;
    node-runtime) locked apt install_node_runtime ;;
    node-images) locked node-images build_node_images ;;
    thanos) locked thanos build_thanos ;;
    kwok) locked kwok build_kwok ;;
    prometheus | promtool) locked "$1" build_prometheus_cmd "$1" ;;
    prometheus-operator-crds) locked prometheus-operator-crds fetch_prometheus_operator_crds ;;
    *) log "unknown peer: $1"; return 2 ;;
  esac
}

asked=("$@")
[[ ${#asked[@]} -gt 0 ]] || asked=("${ALL_PEERS[@]}")
for p in "${asked[@]}"; do
  [[ " ${ALL_PEERS[*]} " == *" $p "* ]] || { log "unknown peer: $p"; exit 2; }
done
# Built in ALL_PEERS's order whatever order they were asked in: asked as the tests name them (etcd first), a slot
# finished etcd and then sat on the kube lock behind kube-apiserver for the whole kube build (cold run, 2026-12-04).
peers=()
for p in "${ALL_PEERS[@]}"; do [[ " ${asked[*]} " == *" $p "* ]] && peers+=("$p"); done

# Independent peers build side by side (downloads and pip overlap with compiles); each one's output is kept apart
# and printed in that order, and the first failure fails the whole run.
outputs=$(mktemp -d)
trap 'rm -rf "$outputs"' EXIT
jobs_max=${TSD_BUILD_JOBS:-2}
pids=()
for i in "${!peers[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs_max)); do wait -n || true; done
  build_one "${peers[$i]}" >"$outputs/$i" &
  pids+=($!)
done
status=0
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || { log "building ${peers[$i]} failed"; status=1; }
done
for i in "${!peers[@]}"; do cat "$outputs/$i"; done
exit $status
