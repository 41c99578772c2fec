#!/usr/bin/env bash
# Packs the initramfs of the ipvlan VM (test/integration/ipvlan-kernel.test.ts): busybox, node, ip(8) and env(1) with
# their libraries, this project's runtime files, a directory of reference plugins, the kernel modules the
# scenarios need (dummy for the master, ipvlan), and test/vm/init as /init.
# Usage: build-initramfs.sh <output.cpio> <kernel version> <label>=<reference plugin dir> …
# Each reference set lands in /ref/<label>/ (its ipvlan and host-local).
set -euo pipefail
out=$1 kver=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
project=$(cd "$here/../.." && pwd)
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

mkdir -p "$root"/{bin,proc,sys,dev,run,tmp,etc,modules,project,ref}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"; done

# A binary and the shared libraries it links, at their own paths.
with_libs() {
  cp --parents -L "$1" "$root"
  ldd "$1" | grep -o '/[^ ]*' | while read -r lib; do cp --parents -L "$lib" "$root"; done
}
with_libs "$(readlink -f "$(command -v node)")"
ln -sf "$(readlink -f "$(command -v node)")" "$root/bin/node"
with_libs "$(command -v ip)"

for m in kernel/drivers/net/dummy.ko kernel/drivers/net/ipvlan/ipvlan.ko; do
  cp "/lib/modules/$kver/$m" "$root/modules/"
done

# The project as it runs on a node: the executable, the compiled code, the native helper, production packages.
cd "$project"
cp -r package.json bin dist "$root/project/"
mkdir -p "$root/project/build/Release" "$root/project/test/vm"
cp build/Release/*.node "$root/project/build/Release/"
cp test/vm/scenarios.mjs "$root/project/test/vm/"
npm ls --omit=dev --all --parseable 2>/dev/null | tail -n +2 | while read -r dir; do
  cp -r --parents "${dir#"$project"/}" "$root/project/"
done
for set in "$@"; do
  mkdir -p "$root/ref/${set%%=*}"
  cp "${set#*=}/ipvlan" "${set#*=}/host-local" "$root/ref/${set%%=*}/"
done

# bin/multus starts node through `#!/usr/bin/env -S node …`, which busybox's env cannot split: the node's own env.
with_libs /usr/bin/env
cp "$here/init" "$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$out"
