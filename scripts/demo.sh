#!/usr/bin/env bash
# The main job, end to end: a node and a pod, each in its own network namespace, and the real multus executable
# attaching eth0, net1 and net2 (our built-in macvlan + host-local, run inside the multus process) to the pod,
# exactly as a container runtime would call it. Nothing but this project is needed. Prints the result and `ip addr`
# inside the pod, then deletes the attachment and cleans up.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)" >&2; exit 1; }
[ -f "$here/dist/main.js" ] && [ -f "$here/build/Release/netns.node" ] || { echo "demo: not built: run npm ci" >&2; exit 1; }

id=$$
node=demo-node-$id
pod=demo-pod-$id
work=$(mktemp -d)
cleanup() {
  ip netns del "$pod" 2>/dev/null || true
  ip netns del "$node" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# The node: an uplink with carrier (a veth pair, both ends up) for the macvlan networks to hang off.
ip netns add "$node"
ip netns add "$pod"
ip -n "$node" link add uplink0 type veth peer name uplink1
for l in lo uplink0 uplink1; do ip -n "$node" link set "$l" up; done

# The node's /opt/cni/bin: macvlan and host-local are this executable under their names, as the installer links them.
plugins="$work/bin"
mkdir -p "$plugins"
for p in multus macvlan host-local; do ln -s "$here/bin/multus" "$plugins/$p"; done

cat >"$work/00-multus.conf" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "multus-cni-network",
  "type": "multus",
  "cniDir": "$work/multus",
  "binDir": "$plugins",
  "delegates": [
    {"cniVersion": "1.0.0", "name": "cluster", "type": "macvlan", "master": "uplink0", "mode": "bridge",
     "ipam": {"type": "host-local", "subnet": "10.244.0.0/24", "routes": [{"dst": "0.0.0.0/0"}], "dataDir": "$work/ipam"}},
    {"cniVersion": "1.0.0", "name": "storage", "type": "macvlan", "master": "uplink0", "mode": "bridge",
     "ipam": {"type": "host-local", "subnet": "192.168.1.0/24", "rangeStart": "192.168.1.200", "rangeEnd": "192.168.1.216",
              "dataDir": "$work/ipam"}},
    {"cniVersion": "1.0.0", "name": "dataplane", "type": "macvlan", "master": "uplink0", "mode": "bridge",
     "ipam": {"type": "host-local", "subnet": "10.10.0.0/16", "routes": [{"dst": "10.20.0.0/16", "gw": "10.10.0.1"}],
              "dataDir": "$work/ipam"}}
  ]
}
JSON

cni() {
  ip netns exec "$node" env CNI_COMMAND="$1" CNI_CONTAINERID="demo-$id" CNI_NETNS="/var/run/netns/$pod" CNI_IFNAME=eth0 \
    CNI_PATH="$plugins" CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=demo" \
    "$here/bin/multus" <"$work/00-multus.conf"
}

echo "== ADD: the result multus returns to the runtime (the primary network's)"
cni ADD
echo
echo "== inside the pod: ip addr"
ip -n "$pod" addr
echo "== inside the pod: ip route"
ip -n "$pod" route
echo "== DEL"
cni DEL
echo "interfaces left in the pod: $(ip -n "$pod" -o link | grep -vc ' lo:' || true)"
echo "IP reservations left: $(find "$work/ipam" -type f -name '[0-9]*' | wc -l)"
