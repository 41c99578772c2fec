#!/usr/bin/env node
// How many API requests multus-ts makes per ADD (events included, and counted apart) and per DEL, for a pod with
// N secondary networks (N distinct NetworkAttachmentDefinitions, N = 0, 1, 3), counted twice: by a real
// kube-apiserver's audit log and by our test API server's request log, side by side. The counts must agree: if they
// do not, the test server has drifted from the real one. Beside them, Go Multus's thin plugin against the real
// server (when its peer is built). Needs root, the reference CNI plugins, etcd-server and the pinned peers
// (bash scripts/build-peers.sh kube-apiserver multus).
// Usage: node scripts/bench-kube-requests.mjs
import { spawnSync } from 'node:child_process';
import { loadTs } from './load-ts.mjs';
import { go, kubeHelper, startBenchCluster } from './kube-bench-cluster.mjs';

// The test helpers are TypeScript (see load-ts.mjs).
const load = (path) => loadTs(path, import.meta.url);
const { startApiServer } = await load('../test/helpers/api-server.ts');
const { TestNode } = await load('../test/helpers/netns.ts');
const { runMultusAsync, uniqueId, Workdir, REFERENCE_PLUGINS } = await load('../test/helpers/multus.ts');
const { execPluginAsync } = await load('../test/helpers/plugin-exec.ts');

const sizes = [0, 1, 3];
const node = new TestNode();
const work = new Workdir();
const cluster = await startBenchCluster(`/var/run/netns/${node.nodeNs}`, work.dir);
const { kube, kubeconfig: realKubeconfig, goKubeconfig, user, goUser } = cluster;
const fake = await startApiServer({ netns: `/var/run/netns/${node.nodeNs}` });
const rows = [];
try {
  const fakeKubeconfig = fake.writeKubeconfig(work.dir, { name: 'fake.kubeconfig' });

  // One ADD and one DEL of a pod with n networks by multus-ts against the real server ('real') or the test server
  // ('test'), or by Go Multus against the real server ('go'); returns the requests the server counted.
  async function attach(n, side) {
    const server = side === 'test' ? 'test' : 'real';
    const ns = `kb-${uniqueId()}`;
    const pod = `pod-${uniqueId()}`;
    const podNs = node.addPod();
    const names = Array.from({ length: n }, (_, i) => `net${i}`);
    const annotations = n > 0 ? { 'k8s.v1.cni.cncf.io/networks': names.join(',') } : {};
    const nadConfig = (i) => JSON.stringify({ cniVersion: '1.0.0', type: 'macvlan', master: node.uplink, mode: 'bridge',
      ipam: { type: 'host-local', subnet: `10.${240 + i}.0.0/24`, dataDir: work.ipamDir } });
    let uid;
    if (server === 'real') {
      await kube.createNamespace(ns);
      uid = (await kube.createPod(ns, pod, annotations)).metadata.uid;
      await kube.apply(names.map((name, i) => ({ apiVersion: 'k8s.cni.cncf.io/v1', kind: 'NetworkAttachmentDefinition',
        metadata: { name, namespace: ns }, spec: { config: nadConfig(i) } })));
    } else {
      uid = fake.addPod({ namespace: ns, name: pod, annotations }).metadata.uid;
      names.forEach((name, i) => fake.addNad({ namespace: ns, name, config: nadConfig(i) }));
    }
    // [all requests, of which events]
    const count = () => {
      const paths = server === 'real'
        ? kube.audit(side === 'go' ? goUser : user).filter((e) => e.objectRef?.namespace === ns).map((e) => e.requestURI)
        : fake.logged({ path: new RegExp(`/namespaces/${ns}/`) }).map((r) => r.path);
      return [paths.length, paths.filter((p) => /\/events(\?|$)/.test(p)).length];
    };
    const conf = { cniVersion: '1.0.0', name: 'bench', type: 'multus', cniDir: work.cniDir, binDir: REFERENCE_PLUGINS,
      kubeconfig: { real: realKubeconfig, test: fakeKubeconfig, go: goKubeconfig }[side],
      delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'bridge', bridge: `kb${uniqueId()}`,
        ipam: { type: 'host-local', subnet: '10.239.0.0/24', dataDir: work.ipamDir } }] };
    const call = async (command) => {
      const run = side === 'go' ? (c) => execPluginAsync(go.path('multus'), c) : runMultusAsync;
      const r = await run({ command, conf, containerId: `c-${pod}`, netns: `/var/run/netns/${podNs}`, inNetns: node.nodeNs,
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${ns};K8S_POD_NAME=${pod};K8S_POD_UID=${uid}` });
      if (r.status !== 0) throw new Error(`${command} failed: ${r.stdout}${r.stderr}`);
    };
    const before = count();
    await call('ADD');
    const afterAdd = count();
    await call('DEL');
    const afterDel = count();
    spawnSync('ip', ['netns', 'del', podNs]);
    return { add: afterAdd[0] - before[0], events: afterAdd[1] - before[1], del: afterDel[0] - afterAdd[0] };
  }

  for (const n of sizes) {
    const real = await attach(n, 'real');
    const test = await attach(n, 'test');
    const gm = go.missing ? undefined : await attach(n, 'go');
    rows.push({ n, real, test, gm });
  }
} finally {
  await fake.close();
  await kube.close();
  node.destroy();
  work.remove();
}

console.log(`API requests per ADD and DEL (kube-apiserver ${kubeHelper.KUBERNETES_VERSION} audit log | our test server's log)`);
console.log(`and Go Multus ${go.version} against the real server${go.missing ? `: not measured (${go.missing})` : ''}`);
console.log('networks  ADD real  ADD test  (events real/test)  DEL real  DEL test    Go ADD (events)    Go DEL');
const col = (v, w = 8) => String(v).padStart(w);
for (const { n, real, test, gm } of rows) {
  console.log(`${col(n)}  ${col(real.add)}  ${col(test.add)}  ${col(`${real.events}/${test.events}`, 18)}  ${col(real.del)}  ${col(test.del)}` +
    `  ${col(gm ? `${gm.add} (${gm.events})` : '-', 17)}  ${col(gm?.del ?? '-')}`);
}
const drift = rows.filter((r) => r.real.add !== r.test.add || r.real.events !== r.test.events || r.real.del !== r.test.del);
if (drift.length > 0) {
  console.log('the test server counts differently from the real one');
  process.exitCode = 1;
}
