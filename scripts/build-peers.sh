#!/usr/bin/env bash
# Build the Go programs our tests run beside multus-ts ("peers"), at pinned versions, from the Go module proxy.
#
#   bash scripts/build-peers.sh [peer …]      # all peers when none is named; names as in PEERS below
#   bash scripts/build-peers.sh --list        # prints "<peer> <version> <dir>" per peer, builds nothing
#
# Each peer lands in ${PEERS_DIR:-/var/cache/multus-ts-peers}/<peer>-<version>/ and is skipped when that
# directory already exists, so a second run costs nothing. A build goes to a temporary directory first and is
# renamed into place only when complete: an interrupted run never leaves a half-filled peer behind.
# Go's module and build caches stay in their default places (GOMODCACHE, GOCACHE), so the same machine reuses
# them for the next version too. test/helpers/peers.ts reads the names, versions and directories from --list.
#
# To add a peer: a function build_<peer> <out-dir> that puts the binaries into <out-dir>, a version variable, and
# a line in PEERS.
set -euo pipefail

PEERS_DIR=${PEERS_DIR:-/var/cache/multus-ts-peers}

# Pinned versions (the README says which versions the tests cover).
CNI_PLUGINS_VERSION=v1.9.1   # containernetworking/plugins, the newest 1.9.x
CNITOOL_VERSION=v1.3.1       # containernetworking/cni's newest release (cnitool with gc and status)
MULTUS_VERSION=v4.2.2        # Go Multus's thin plugin and its installer
KUBERNETES_VERSION=v1.36.3   # kube-apiserver (etcd is Debian's etcd-server 3.4, which it accepts); go 1.26.0

# peer name -> version variable (order is build order)
PEERS=(cni-plugins:CNI_PLUGINS_VERSION cnitool:CNITOOL_VERSION multus:MULTUS_VERSION kube-apiserver:KUBERNETES_VERSION)

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-trimpath"
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

# go install <package>@<version> for each package, binaries into $out (modules without replace directives).
go_install() {
  local out=$1 version=$2; shift 2
  local pkg
  for pkg in "$@"; do
    GOBIN="$out" nice go install "$pkg@$version"
  done
}

build_cni-plugins() {
  local out=$1 p=github.com/containernetworking/plugins/plugins
  go_install "$out" "$CNI_PLUGINS_VERSION" \
    "$p/main/bridge" "$p/main/macvlan" "$p/main/ipvlan" "$p/main/loopback" "$p/main/ptp" \
    "$p/ipam/host-local" "$p/ipam/static" "$p/meta/tuning" "$p/meta/portmap"
}

build_cnitool() {
  go_install "$1" "$CNITOOL_VERSION" github.com/containernetworking/cni/cnitool
}

# `go install mod@version` fails for Go Multus: the proxy refuses the version list of its gopkg.in path, which
# go install reads for deprecations. A scratch module that requires it builds the same packages with Multus's own
# dependency versions (minimal version selection over its go.mod, nothing else required).
build_multus() {
  local out=$1 m=gopkg.in/k8snetworkplumbingwg/multus-cni.v4
  local wrap
  wrap=$(mktemp -d)
  (
    trap 'rm -rf "$wrap"' EXIT
    cd "$wrap"
    go mod init multus-ts-peer-multus >/dev/null 2>&1
    nice go get "$m/cmd/multus@$MULTUS_VERSION" "$m/cmd/thin_entrypoint@$MULTUS_VERSION"
    GOBIN="$out" nice go install "$m/cmd/multus" "$m/cmd/thin_entrypoint"
  )
}

# kube-apiserver: k8s.io/kubernetes requires its staging modules (k8s.io/api, apimachinery, client-go, …) at
# v0.0.0 and replaces them with ./staging/… in its own go.mod, so `go install` of it fails. A small wrapper module
# requires it and maps every staging module named in those replace lines to its published v0.<minor>.<patch>.
build_kube-apiserver() {
  local out=$1 work staging gomod
  work=$(mktemp -d)
  staging="v0.${KUBERNETES_VERSION#v1.}"
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",\{0,1\}$/\1/p')
  {
    printf 'module multus-ts/peers/kube-apiserver\n\ngo 1.26.0\n\nrequire k8s.io/kubernetes %s\n\ntool k8s.io/kubernetes/cmd/kube-apiserver\n\nreplace (\n' "$KUBERNETES_VERSION"
    awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// { print "\t" $1 " => " $1 " " v }' "$gomod"
    printf ')\n'
  } > "$work/go.mod"
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local x=k8s.io/component-base/version
  (cd "$work" && go mod tidy \
    && nice go build -ldflags "-s -w -X $x.gitVersion=$KUBERNETES_VERSION -X $x.gitMajor=1 -X $x.gitMinor=$minor" \
         -o "$out/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver) || { rm -rf "$work"; return 1; }
  rm -rf "$work"
}

build_peer() {
  local name=$1 version=$2
  local dir="$PEERS_DIR/$name-$version"
  if [ -d "$dir" ]; then
    echo "peer $name $version: cached in $dir"
    return
  fi
  local tmp="$dir.partial.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  local start=$SECONDS
  echo "peer $name $version: building …"
  if ! "build_$name" "$tmp"; then
    rm -rf "$tmp"
    echo "peer $name $version: build failed" >&2
    return 1
  fi
  mv "$tmp" "$dir"
  echo "peer $name $version: built in $((SECONDS - start)) s into $dir"
}

if [ "${1:-}" = --list ]; then
  for entry in "${PEERS[@]}"; do
    name=${entry%%:*}
    var=${entry#*:}
    echo "$name ${!var} $PEERS_DIR/$name-${!var}"
  done
  exit 0
fi

PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || { echo "build-peers: Go is required (the machine's go)" >&2; exit 1; }
wanted=("$@")
for name in "${wanted[@]}"; do
  [[ " ${PEERS[*]} " == *" $name:"* ]] || { echo "build-peers: no peer named $name" >&2; exit 1; }
done
mkdir -p "$PEERS_DIR"
for entry in "${PEERS[@]}"; do
  name=${entry%%:*}
  var=${entry#*:}
  if [ ${#wanted[@]} -gt 0 ] && [[ " ${wanted[*]} " != *" $name "* ]]; then continue; fi
  build_peer "$name" "${!var}"
done
