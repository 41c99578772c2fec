#!/usr/bin/env bash
# Install the upstream `cnitool` (containernetworking/cni) into /usr/local/bin,
# using Debian packages only. Idempotent; run as root.
#
# Why it works this way: Debian ships no cnitool binary, and the
# golang-github-appc-cni-dev package leaves cnitool/ out (debian/rules
# DH_GOLANG_EXCLUDES). The Debian *source* package golang-github-appc-cni keeps
# upstream's unmodified orig tarball, which has cnitool/ too. cnitool and libcni
# import only the Go standard library, so golang-go alone is enough to build it.
set -euo pipefail

if command -v cnitool >/dev/null 2>&1; then
  echo "cnitool already installed: $(command -v cnitool)"
  exit 0
fi

export DEBIAN_FRONTEND=noninteractive
pkgs=(golang-go xz-utils debian-archive-keyring)
apt-get install -y --no-install-recommends "${pkgs[@]}" ||
  { apt-get update && apt-get install -y --no-install-recommends "${pkgs[@]}"; }

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

# Get the source from a private deb-src list in $work, made from the system's own
# apt sources (same mirrors, same keys), leaving /etc/apt and the system's package
# lists untouched. apt checks the Release signature and the files' hashes as usual.
mkdir -p "$work/apt/lists/partial"
for f in /etc/apt/sources.list.d/*.sources; do
  [ -e "$f" ] && sed 's/^Types: deb$/Types: deb-src/' "$f" >"$work/apt/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >"$work/apt/system-src.list"
fi
apt_src=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt"
         -o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root)
apt-get "${apt_src[@]}" update -qq
(cd "$work" && apt-get "${apt_src[@]}" source --download-only golang-github-appc-cni)

# GOPATH-mode build: upstream go.mod lists test-only modules (ginkgo/gomega)
# that module mode would try to fetch; nothing here needs them.
src="$work/gopath/src/github.com/containernetworking"
mkdir -p "$src"
tar -xf "$work"/golang-github-appc-cni_*.orig.tar.* -C "$src"
mv "$src"/golang-github-appc-cni-* "$src/cni"
env GOPATH="$work/gopath" GOCACHE="$work/cache" GO111MODULE=off GOFLAGS= \
  CGO_ENABLED=0 go build -trimpath -o "$work/cnitool" \
  github.com/containernetworking/cni/cnitool
install -m 0755 "$work/cnitool" /usr/local/bin/cnitool
echo "installed /usr/local/bin/cnitool from $(basename "$work"/golang-github-appc-cni_*.dsc .dsc)"
