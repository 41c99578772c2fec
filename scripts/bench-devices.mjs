#!/usr/bin/env node
// What the device lookup costs a pod whose NAD names a resource (k8s.v1.cni.cncf.io/resourceName), as the
// executable pays it: ADD of one pod through bin/multus against our test API server, its secondary network a NAD
//  - without the annotation (the baseline: nothing of the lookup is loaded),
//  - with it, the devices listed by a fake kubelet over gRPC on a unix socket for a node of 10 and of 110 pods
//    (kubelet's default maximum), each pod with two containers holding devices, CPUs and memory,
//  - with it, the devices read from the kubelet checkpoint file instead (no socket), 110 pods.
// The delegates are a few lines of shell that answer ADD with an interface (no namespaces needed, next to no
// cost), the same in every variant; variants alternate within every run. Prints the median ADD time of each and its difference to the baseline.
// Needs `npm run build`. Usage: node scripts/bench-devices.mjs [runs]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const runs = Number(process.argv[2] ?? 15);
const root = fileURLToPath(new URL('..', import.meta.url));
const multus = join(root, 'bin/multus');
const work = mkdtempSync(join(tmpdir(), 'bench-devices-'));
const require = createRequire(import.meta.url);

// The fake kubelet and the test API server are the tests' own (test/helpers/), compiled here rather than copied.
const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['--ignoreConfig', '--outDir', join(work, 'js'), '--rootDir', root,
  '--module', 'commonjs', '--target', 'ES2022', '--esModuleInterop', '--skipLibCheck', '--types', 'node',
  join(root, 'test/helpers/fake-kubelet.ts'), join(root, 'test/helpers/api-server.ts')], { encoding: 'utf8' });
if (tsc.status !== 0) throw new Error(`compiling the test helpers failed: ${tsc.stdout}${tsc.stderr}`);
const { startFakeKubelet, encodeListResponse } = require(join(work, 'js/test/helpers/fake-kubelet.js'));
const { startApiServer } = require(join(work, 'js/test/helpers/api-server.js'));

const SRIOV = 'intel.com/sriov_a';
const NS = 'bench';
const POD = 'pod-3';

function nodePods(count) {
  return Array.from({ length: count }, (_, p) => ({
    namespace: p === 3 ? NS : `ns${p % 7}`, name: `pod-${p}`,
    containers: ['app', 'sidecar'].map((name, c) => ({
      name, cpuIds: [2 * p, 2 * p + 1], memory: 1 << 28,
      devices: [{ resourceName: SRIOV, ids: [`0000:3b:${String(p).padStart(2, '0')}.${c}`], numa: [p % 2] }],
    })),
  }));
}

const bin = join(work, 'bin');
mkdirSync(bin);
writeFileSync(join(bin, 'tiny'), `#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = ADD ] && printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"10.1.0.2/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS"
exit 0
`, { mode: 0o755 });
const netns = join(work, 'netns');
mkdirSync(netns);

const api = await startApiServer();
const pod = api.addPod({ namespace: NS, name: POD, annotations: { 'k8s.v1.cni.cncf.io/networks': 'plain,vf' } });
const spyConf = (name) => JSON.stringify({ cniVersion: '1.0.0', name, type: 'tiny' });
api.addNad({ namespace: NS, name: 'plain', config: spyConf('plain') });
const kubeconfig = api.writeKubeconfig(work);

const kubelets = {};
for (const count of [10, 110]) kubelets[count] = await startFakeKubelet(join(work, `kubelet-${count}.sock`), nodePods(count));
const checkpoint = join(work, 'kubelet_internal_checkpoint');
writeFileSync(checkpoint, JSON.stringify({ Data: { PodDeviceEntries: nodePods(110).flatMap((p, i) => p.containers.map((c) => ({
  PodUID: i === 3 ? pod.metadata.uid : `uid-${i}`, ContainerName: c.name, ResourceName: SRIOV, DeviceIDs: { [i % 2]: c.devices[0].ids }, AllocResp: 'CgA=',
}))), RegisteredDevices: {} }, Checksum: 1 }));

// Each variant is the same pod; only the second NAD and where the kubelet's answer comes from differ.
const variants = {
  'no resourceName (baseline)': { resource: undefined, socket: join(work, 'none.sock') },
  'kubelet List, 10 pods': { resource: SRIOV, socket: join(work, 'kubelet-10.sock') },
  'kubelet List, 110 pods': { resource: SRIOV, socket: join(work, 'kubelet-110.sock') },
  'checkpoint file, 110 pods': { resource: SRIOV, socket: join(work, 'none.sock') },
};

function run(command, variant, containerId) {
  const conf = JSON.stringify({
    cniVersion: '1.0.0', name: 'multus-cni-network', type: 'multus', kubeconfig, cniDir: join(work, 'cni'), binDir: bin,
    multusNamespace: NS, kubeletSocket: variant.socket, kubeletCheckpointFile: checkpoint, deviceInfoDir: join(work, 'devinfo'),
    delegates: [{ cniVersion: '1.0.0', name: 'cluster', type: 'tiny' }],
  });
  const env = { PATH: process.env.PATH, CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0',
    CNI_PATH: bin, CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${NS};K8S_POD_NAME=${POD};K8S_POD_UID=${pod.metadata.uid}` };
  // Asynchronous: the API server and the fake kubelet answer from this process. GNU time adds the CPU time the
  // call used (user + system), which a loaded machine disturbs far less than the wall time.
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-f', 'cpu %U %S', multus], { env });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6;
      const cpu = /cpu (\S+) (\S+)\s*$/.exec(out);
      if (code !== 0 || !cpu) reject(new Error(`${command}: ${out}`));
      else resolve({ wall, cpu: (Number(cpu[1]) + Number(cpu[2])) * 1000 });
    });
    child.stdin.end(conf);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const samples = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
try {
  console.log(`List answers: 10 pods ${encodeListResponse(nodePods(10)).length} bytes, 110 pods ${encodeListResponse(nodePods(110)).length} bytes`);
  for (let i = 0; i < runs; i++) {
    for (const [name, variant] of Object.entries(variants)) {
      api.addNad({ namespace: NS, name: 'vf', config: spyConf('vf'), ...(variant.resource && { annotations: { 'k8s.v1.cni.cncf.io/resourceName': variant.resource } }) });
      const id = `bench-${i}-${Object.keys(variants).indexOf(name)}`;
      samples[name].push(await run('ADD', variant, id));
      await run('DEL', variant, id);
    }
  }
  const base = samples['no resourceName (baseline)'];
  const fig = (xs, key) => median(xs.map((x) => x[key]));
  for (const [name, xs] of Object.entries(samples)) {
    const diff = (key) => (xs === base ? '' : ` (+${(fig(xs, key) - fig(base, key)).toFixed(0)})`);
    console.log(`${name.padEnd(28)} ADD wall ${fig(xs, 'wall').toFixed(0).padStart(5)} ms${diff('wall').padEnd(8)}  CPU ${fig(xs, 'cpu').toFixed(0).padStart(4)} ms${diff('cpu')}`);
  }
} finally {
  for (const k of Object.values(kubelets)) await k.close();
  await api.close();
  rmSync(work, { recursive: true, force: true });
}
