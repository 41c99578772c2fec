// dev only (not committed): a long-lived cluster + node netns for profiling single calls from the shell
import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { startBenchCluster } from './kube-bench-cluster.mjs';
const dir = '/tmp/k8s-dev';
const nodeNs = 'k8sdev-node', podNs = 'k8sdev-pod';
const sh = (...a) => execFileSync(a[0], a.slice(1), { stdio: 'ignore' });
for (const n of [nodeNs, podNs]) { try { sh('ip', 'netns', 'del', n); } catch {} sh('ip', 'netns', 'add', n); }
sh('ip', '-n', nodeNs, 'link', 'add', 'uplink0', 'type', 'veth', 'peer', 'name', 'uplink1');
for (const l of ['uplink0', 'uplink1', 'lo']) sh('ip', '-n', nodeNs, 'link', 'set', l, 'up');
const c = await startBenchCluster(`/var/run/netns/${nodeNs}`, dir);
const ns = 'k8sdev';
await c.kube.createNamespace(ns);
await c.kube.apply([0,1,2,3].map((i) => ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition', metadata: { name: `net${i}`, namespace: ns },
  spec: { config: JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master: 'uplink0', mode: 'bridge', ipam: { type: 'host-local', subnet: `10.${201 + i}.0.0/16`, dataDir: `${dir}/ipam` } }) } })));
for (const n of [0, 1, 4]) {
  const pod = await c.kube.createPod(ns, `p${n}`, n ? { 'k8s.v1.cni.cncf.io/networks': ['net0','net1','net2','net3'].slice(0, n).join(',') } : {});
  writeFileSync(`${dir}/args${n}`, `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=p${n};K8S_POD_UID=${pod.metadata.uid}`);
}
for (const [name, kc, extra] of [['ts', c.kubeconfig, { builtinPlugins: ['macvlan', 'host-local'] }], ['go', c.goKubeconfig, {}]]) {
  writeFileSync(`${dir}/conf-${name}.json`, JSON.stringify({ cniVersion: '1.0.0', name: 'bench', type: 'multus', cniDir: `${dir}/cni-${name}`, binDir: '/var/cache/multus-ts-peers/cni-plugins-v1.9.1', kubeconfig: kc, ...extra,
    delegates: [{ cniVersion: '1.0.0', name: 'prim', type: 'bridge', bridge: `k8sdevbr-${name}`, ipam: { type: 'host-local', subnet: '10.200.0.0/16', dataDir: `${dir}/ipam` } }] }));
}
writeFileSync(`${dir}/ready`, c.server);
console.log('ready', c.server);
process.on('SIGTERM', async () => { await c.kube.close(); sh('ip', 'netns', 'del', nodeNs); sh('ip', 'netns', 'del', podNs); process.exit(0); });
setInterval(() => {}, 1e6);
